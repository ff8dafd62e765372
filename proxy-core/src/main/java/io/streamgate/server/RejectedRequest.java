package io.streamgate.server;

import io.netty.handler.codec.http.HttpRequest;

/**
 * Stands in the inbound stream for a request the guard refused, so the refusal is answered in order behind any
 * pipelined requests still in flight. The connection is closed after the answer: the decoder has lost the framing.
 *
 * @param head the refused request's head when its request line was read (the refusal is about its header fields), so
 *             the access log can name its method and target as nginx does; null when the request line itself was bad
 */
record RejectedRequest(ProxyError error, String message, HttpRequest head) {
    RejectedRequest(ProxyError error, String message) {
        this(error, message, null);
    }
}
