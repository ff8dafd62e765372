package io.streamgate.server;

/**
 * Stands in the inbound stream for a request the guard refused, so the refusal is answered in order behind any
 * pipelined requests still in flight. The connection is closed after the answer: the decoder has lost the framing.
 */
record RejectedRequest(ProxyError error, String message) {
}
