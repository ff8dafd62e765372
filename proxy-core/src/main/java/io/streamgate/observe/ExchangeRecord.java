package io.streamgate.observe;

/**
 * What one exchange did, filled in as it happens and written to the access log when it ends. Mutable and confined
 * to the exchange's event loop.
 */
public final class ExchangeRecord {
    public String requestId;
    public String clientIp;
    public String method;
    public String uri;
    public String protocol;
    public String userAgent;
    public String referer;
    /** The API key's name, or null for an anonymous request. */
    public String identity;
    /** Subject of the client's verified TLS certificate, or null. */
    public String clientCert;
    public String route;
    /** The {@code host:port} of the endpoint that got the request, or null when none did. */
    public String upstreamEndpoint;
    /** The upstream's name (the metrics label), or null when the request never got one. */
    public String upstream;
    /** Nanoseconds from request start to the first byte of the response body, or -1 when none was relayed. */
    public long firstBodyNanos = -1;
    /** Response body pieces relayed. */
    public long chunksOut;
    /** Whether the response was an event stream. */
    public boolean eventStream;
    public int status;
    public long bytesIn;
    public long bytesOut;
    public long startEpochMillis;
    public long durationNanos;
    /** Nanoseconds from request start to the response headers, or -1 when none arrived. */
    public long firstByteNanos = -1;
    /** LLM tokens the backend reported for this request, or -1 when unknown. */
    public long promptTokens = -1;
    public long completionTokens = -1;
    /** Whether {@link #promptTokens} is the gateway's estimate because the backend reported no usage. */
    public boolean tokensEstimated;
    /** HIT, MISS or BYPASS on a caching route, else null. */
    public String cacheStatus;
    /** Why the exchange ended unusually (e.g. client_closed, upstream_reset, idle_timeout), or null. */
    public String note;
}
