package io.streamgate.server;

import io.netty.handler.codec.DefaultHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.streamgate.upstream.ForwardingHeaders;
import java.util.ArrayList;
import java.util.List;

/**
 * Header-name validation for the requests and responses we relay. Netty validates every name passed to
 * {@code set} or {@code add}, one character at a time; the names this gateway sets itself on every request
 * (X-Forwarded-*, X-Request-Id, RateLimit-*, Host, Transfer-Encoding, Connection) are constants known to be valid,
 * and re-validating them was 6 % of the event loops' samples in the typical profile. Exactly those instances,
 * compared by identity, pass at once; every other name, and so every name a client or a backend sends, is validated
 * as before, unless the decoder matched it to one of the {@link KnownHeaderNames} (valid tokens, known by identity).
 */
public final class TrustedHeaderNames implements DefaultHeaders.NameValidator<CharSequence> {
    private static final DefaultHeaders.NameValidator<CharSequence> STANDARD =
            DefaultHttpHeadersFactory.headersFactory().getNameValidator();
    private static final TrustedHeaderNames INSTANCE = new TrustedHeaderNames();

    private final CharSequence[] trusted;

    private TrustedHeaderNames() {
        List<CharSequence> names = new ArrayList<>(List.of(HttpHeaderNames.HOST, HttpHeaderNames.TRANSFER_ENCODING,
                HttpHeaderNames.CONNECTION, HttpHeaderNames.CONTENT_LENGTH, HttpHeaderNames.AUTHORIZATION,
                RequestIds.HEADER));
        names.addAll(ForwardingHeaders.NAMES_SET);
        names.addAll(Admission.QUOTA_HEADER_NAMES);
        trusted = names.toArray(new CharSequence[0]);
    }

    /** Netty's header maps, with this name validation (values are validated as Netty does by default). */
    public static DefaultHttpHeadersFactory headersFactory() {
        return DefaultHttpHeadersFactory.headersFactory().withNameValidator(INSTANCE);
    }

    @Override
    public void validateName(CharSequence name) {
        for (CharSequence t : trusted) {
            if (t == name) {
                return;
            }
        }
        if (!KnownHeaderNames.isConstant(name)) {
            STANDARD.validateName(name);
        }
    }
}
