package io.streamgate.upstream;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * Removes the headers that describe one connection rather than the message (RFC 9110 §7.6.1): {@code Connection}
 * and every header it names, plus the classic list. Transfer-Encoding goes too: we re-frame every message we relay.
 */
public final class HopByHopHeaders {
    public static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");
    private static final AsciiString[] ALWAYS = {
        HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE, HttpHeaderNames.TE, HttpHeaderNames.UPGRADE,
        HttpHeaderNames.PROXY_AUTHORIZATION, HttpHeaderNames.PROXY_AUTHENTICATE, PROXY_CONNECTION,
        HttpHeaderNames.TRAILER, HttpHeaderNames.TRANSFER_ENCODING,
    };

    private HopByHopHeaders() {
    }

    /**
     * {@link HttpUtil#isKeepAlive}, answered by one lookup when there is no {@code Connection} header (the usual
     * HTTP/1.1 case): Netty's version scans the header values for tokens on every call, twice per request.
     */
    public static boolean keepAlive(HttpMessage message) {
        return message.headers().contains(HttpHeaderNames.CONNECTION)
                ? HttpUtil.isKeepAlive(message)
                : message.protocolVersion().isKeepAliveDefault();
    }

    /** {@link HttpUtil#isTransferEncodingChunked}, by one lookup when there is no {@code Transfer-Encoding}. */
    public static boolean chunked(HttpMessage message) {
        return message.headers().contains(HttpHeaderNames.TRANSFER_ENCODING) && HttpUtil.isTransferEncodingChunked(message);
    }

    public static void strip(HttpHeaders headers) {
        if (!headers.isEmpty() && headers.contains(HttpHeaderNames.CONNECTION)) {
            stripNamedIn(headers);
        }
        for (AsciiString name : ALWAYS) {
            headers.remove(name);
        }
    }

    private static void stripNamedIn(HttpHeaders headers) {
        List<String> connection = headers.getAll(HttpHeaderNames.CONNECTION);
        for (String value : connection) {
            for (String token : value.split(",")) {
                String name = token.trim();
                if (!name.isEmpty()) {
                    headers.remove(name);
                }
            }
        }
    }
}
