package io.streamgate.server;

import io.netty.handler.codec.DefaultHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;

/**
 * Header-name validation for the requests and responses we relay. Netty validates every name passed to
 * {@code set} or {@code add}, one character at a time; the names this gateway sets itself on every request
 * (X-Forwarded-*, X-Request-Id, RateLimit-*, Host, Transfer-Encoding, Connection) and the known names the decoders
 * hand out are constants known to be valid ({@link KnownHeaderNames}), and re-validating them was 6 % of the event
 * loops' samples in the typical profile. Exactly those instances, found by identity in a small hash table, pass at
 * once; every other name, and so every name a client or a backend sends that is not a known one, is validated as
 * before.
 */
public final class TrustedHeaderNames implements DefaultHeaders.NameValidator<CharSequence> {
    private static final DefaultHeaders.NameValidator<CharSequence> STANDARD =
            DefaultHttpHeadersFactory.headersFactory().getNameValidator();
    private static final TrustedHeaderNames INSTANCE = new TrustedHeaderNames();

    private TrustedHeaderNames() {
    }

    /** Netty's header maps, with this name validation (values are validated as Netty does by default). */
    public static DefaultHttpHeadersFactory headersFactory() {
        return DefaultHttpHeadersFactory.headersFactory().withNameValidator(INSTANCE);
    }

    @Override
    public void validateName(CharSequence name) {
        if (!KnownHeaderNames.isConstant(name)) {
            STANDARD.validateName(name);
        }
    }
}
