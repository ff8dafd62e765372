package io.streamgate.server;

/**
 * Names of the handlers in a client connection's pipeline, in order from the socket inward:
 * <ol>
 *   <li>{@link #ACCEPT_GUARD} — connection caps and the server-level IP rules, decided when the connection opens;</li>
 *   <li>{@link #PROXY_PROTOCOL}, {@link #PROXY_HEADER} — only for trusted load balancers speaking the PROXY protocol;
 *       both leave once the header is read;</li>
 *   <li>{@link #TLS} — TLS with SNI certificate selection, then {@link #PROTOCOL}: ALPN (or, on a plain listener with
 *       h2c, the HTTP/2 preface) picks HTTP/1.1 or HTTP/2 and is replaced by that protocol's handlers;</li>
 *   <li>HTTP/1.1: {@link #DECODER} (strict, with the request-line and header-size limits), {@link #ENCODER},
 *       {@link #GUARD} (decoder failures and ambiguous framing become 400/414/431), {@link #EXCHANGE} (policies,
 *       routing, pipelining order, the relay); when the connection closes after an answer given before its request
 *       was read to the end, these four give way to {@link #LINGERING_CLOSE};</li>
 *   <li>HTTP/2: {@link #H2_CODEC}, {@link #H2_IDLE}, {@link #H2_MULTIPLEX}, {@link #H2_ERRORS}; each stream's channel then has
 *       {@link #H2_STREAM_CODEC} (frames to HTTP/1.1 objects), {@link #GUARD} and {@link #EXCHANGE}, so both protocols
 *       share one policy chain and one relay.</li>
 * </ol>
 * An upstream connection's pipeline is (TLS,) {@link #UPSTREAM_DECODER}, {@link #UPSTREAM_ENCODER}, {@link #UPSTREAM_RELAY}.
 */
public final class PipelineNames {
    public static final String ACCEPT_GUARD = "accept-guard";
    public static final String PROXY_PROTOCOL = "proxy-protocol";
    public static final String PROXY_HEADER = "proxy-header";
    public static final String TLS = "tls";
    public static final String PROTOCOL = "protocol-negotiation";
    public static final String DECODER = "http-decoder";
    public static final String ENCODER = "http-encoder";
    public static final String GUARD = "request-guard";
    public static final String EXCHANGE = "exchange";
    public static final String LINGERING_CLOSE = "lingering-close";
    public static final String H2_CODEC = "h2-codec";
    public static final String H2_IDLE = "h2-idle";
    public static final String H2_MULTIPLEX = "h2-multiplex";
    public static final String H2_STREAM_CODEC = "h2-stream-codec";
    public static final String H2_ERRORS = "h2-errors";
    public static final String UPSTREAM_DECODER = "upstream-decoder";
    public static final String UPSTREAM_ENCODER = "upstream-encoder";
    public static final String UPSTREAM_RELAY = "upstream-relay";

    private PipelineNames() {
    }
}
