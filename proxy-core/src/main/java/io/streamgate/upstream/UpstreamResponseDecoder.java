package io.streamgate.upstream;

import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.util.AsciiString;
import io.streamgate.server.KnownHeaderNames;

/**
 * Decodes a backend's responses. Netty's {@code HttpClientCodec} pairs this decoder with the request encoder inside
 * one combined handler and a queue of request methods, so that a response to HEAD is known to have no body. An
 * upstream connection carries one request at a time, so a flag set when the request head is written is all the
 * decoder needs, and decoder and encoder sit in the pipeline on their own: one delegation layer less on every
 * message in both directions. Header names the gateway knows come out as its constants ({@link KnownHeaderNames}).
 */
final class UpstreamResponseDecoder extends HttpResponseDecoder {
    private boolean headRequest;

    UpstreamResponseDecoder(HttpDecoderConfig config) {
        super(config);
    }

    /** Called before each request head is written on this connection. */
    void expectResponseTo(HttpMethod method) {
        headRequest = HttpMethod.HEAD.equals(method);
    }

    /**
     * Whether bytes the backend sent are held past the message just decoded. Asked when a response has ended, from
     * inside the decoder's read: bytes after the end of a response (a body longer than its Content-Length, a body after
     * a response to HEAD or after a 204 or 304) are no response to the next request, so the connection is not reused.
     */
    boolean hasUnreadBytes() {
        return actualReadableBytes() > 0;
    }

    @Override
    protected AsciiString splitHeaderName(byte[] bytes, int start, int length) {
        AsciiString known = KnownHeaderNames.find(bytes, start, length);
        return known != null ? known : super.splitHeaderName(bytes, start, length);
    }

    @Override
    protected boolean isContentAlwaysEmpty(HttpMessage msg) {
        // The final response to HEAD carries a GET's headers, Content-Length included, and never a body (RFC 9110
        // §9.3.2); interim 1xx responses are the base class's business.
        return headRequest && ((HttpResponse) msg).status().code() >= 200 || super.isContentAlwaysEmpty(msg);
    }
}
