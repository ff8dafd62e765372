package io.streamgate.config;

import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * The client-facing listener.
 *
 * @param reusePort      one listening socket per event loop (SO_REUSEPORT) rather than one for all
 * @param tls            TLS termination, or null for plain HTTP
 * @param redirect       a plain listener that redirects to the TLS listener, or null
 * @param trustedProxies CIDRs of peers whose X-Forwarded-For or PROXY header is believed
 * @param shutdownDelay  on SIGTERM, how long /readyz reports "not ready" (while still serving) before the listener
 *                       closes, so load balancers stop sending first
 * @param allowEncodedInPath reserved characters a request path may carry percent-encoded (the others are refused)
 */
public record ServerConfig(
        String host,
        int port,
        int ioThreads,
        TransportChoice transport,
        boolean reusePort,
        Duration clientIdleTimeout,
        Duration drainTimeout,
        Duration shutdownDelay,
        Limits limits,
        TlsConfig tls,
        boolean http2,
        boolean h2c,
        int maxConcurrentStreams,
        Listen redirect,
        IpRulesConfig ip,
        List<String> trustedProxies,
        boolean proxyProtocol,
        Set<EncodedPathCharacter> allowEncodedInPath) {

    public ServerConfig {
        trustedProxies = List.copyOf(trustedProxies);
        allowEncodedInPath = Set.copyOf(allowEncodedInPath);
    }

    /** Which Netty transport to run on; AUTO picks the best one that loads on this machine. */
    public enum TransportChoice { AUTO, IO_URING, EPOLL, NIO }

    /**
     * Limits on what a client may send and how slowly; each breach has its own status code.
     *
     * @param requestHeaderTimeout from the first byte of a request to the end of its headers (slowloris)
     * @param bodyIdleTimeout      longest pause while a client uploads a request body
     */
    public record Limits(int maxRequestLine, int maxHeaderSize, int maxHeaders, long maxBodySize,
                         int maxConnections, int maxConnectionsPerIp, Duration requestHeaderTimeout,
                         Duration bodyIdleTimeout) {
    }

    /** A host and port to listen on. */
    public record Listen(String host, int port) {
    }
}
