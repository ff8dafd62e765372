package io.streamgate.config;

import java.time.Duration;

/** The client-facing listener. */
public record ServerConfig(
        String host,
        int port,
        int ioThreads,
        TransportChoice transport,
        Duration clientIdleTimeout,
        Duration drainTimeout,
        Limits limits) {

    /** Which Netty transport to run on; AUTO picks the best one that loads on this machine. */
    public enum TransportChoice { AUTO, IO_URING, EPOLL, NIO }

    /** Limits on what a client may send; each breach has its own status code. */
    public record Limits(int maxRequestLine, int maxHeaderSize, int maxHeaders, long maxBodySize) {
    }
}
