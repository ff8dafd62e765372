package io.streamgate.server;

import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpRequestDecoder;

/**
 * Netty's request decoder, made to refuse rather than repair ambiguous framing. A request carrying both
 * Content-Length and Transfer-Encoding is how smuggling starts (RFC 9112 §6.1): Netty would drop the
 * Content-Length and carry on; a proxy must not guess which framing the client meant.
 */
final class StrictRequestDecoder extends HttpRequestDecoder {
    StrictRequestDecoder(HttpDecoderConfig config) {
        super(config);
    }

    @Override
    protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
        throw new AmbiguousFramingException();
    }

    /** Marks the decoder failure that {@link RequestGuard} answers with 400. */
    static final class AmbiguousFramingException extends IllegalArgumentException {
        AmbiguousFramingException() {
            super("both Content-Length and Transfer-Encoding are present");
        }
    }
}
