package io.streamgate.server;

/**
 * Names of the handlers in a client connection's pipeline, in order from the socket inward:
 * <ol>
 *   <li>{@link #DECODER} — strict HTTP/1.1 request decoding with the request-line and header-size limits;</li>
 *   <li>{@link #ENCODER} — HTTP/1.1 response encoding;</li>
 *   <li>{@link #GUARD} — turns decoder failures and ambiguous framing into rejections (414/431/400);</li>
 *   <li>{@link #EXCHANGE} — routing, pipelining order, the relay to the upstream and back.</li>
 * </ol>
 * An upstream connection's pipeline is {@link #UPSTREAM_CODEC} then {@link #UPSTREAM_RELAY}.
 */
public final class PipelineNames {
    public static final String DECODER = "http-decoder";
    public static final String ENCODER = "http-encoder";
    public static final String GUARD = "request-guard";
    public static final String EXCHANGE = "exchange";
    public static final String UPSTREAM_CODEC = "upstream-codec";
    public static final String UPSTREAM_RELAY = "upstream-relay";

    private PipelineNames() {
    }
}
