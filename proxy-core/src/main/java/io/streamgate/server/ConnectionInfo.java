package io.streamgate.server;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.net.InetAddress;

/**
 * What a client connection learned before any request: the address a trusted load balancer reported through the
 * PROXY protocol, and the subject of a verified client certificate. Stored on the connection's channel; HTTP/2
 * streams read it from their parent.
 */
final class ConnectionInfo {
    static final AttributeKey<InetAddress> PROXIED_CLIENT = AttributeKey.valueOf("streamgate.proxiedClient");
    static final AttributeKey<String> CLIENT_CERT_SUBJECT = AttributeKey.valueOf("streamgate.clientCertSubject");
    /**
     * Set when the server-level IP rules were not applied at accept because the peer was a trusted proxy then: they
     * must apply to every request of the connection, even after a reload stops trusting the peer.
     */
    static final AttributeKey<Boolean> SERVER_RULES_DEFERRED = AttributeKey.valueOf("streamgate.serverRulesDeferred");

    private ConnectionInfo() {
    }

    /** The TCP connection: the channel itself for HTTP/1.1, the parent of an HTTP/2 stream. */
    static Channel connection(Channel ch) {
        return ch.parent() != null && !(ch.parent() instanceof io.netty.channel.ServerChannel) ? ch.parent() : ch;
    }
}
