package io.streamgate.server;

import io.streamgate.config.ProxyConfig;
import io.streamgate.config.ServerConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The settings a reload cannot apply to a running gateway: they shape listeners, their sockets and TLS contexts, or
 * the size of structures built once. Everything else (routes, upstreams, policies, limits, keys) is applied live.
 */
public final class RestartRequired {
    private RestartRequired() {
    }

    /** One line per setting that differs between {@code running} and {@code next} and needs a restart. */
    public static List<String> between(ProxyConfig running, ProxyConfig next) {
        List<String> out = new ArrayList<>();
        ServerConfig a = running.server();
        ServerConfig b = next.server();
        differs(out, "server.listen", a.host() + ":" + a.port(), b.host() + ":" + b.port());
        differs(out, "server.transport", a.transport(), b.transport());
        differs(out, "server.io_threads", a.ioThreads(), b.ioThreads());
        differs(out, "server.tls", a.tls(), b.tls());
        differs(out, "server.http2", a.http2(), b.http2());
        differs(out, "server.h2c", a.h2c(), b.h2c());
        differs(out, "server.max_concurrent_streams", a.maxConcurrentStreams(), b.maxConcurrentStreams());
        differs(out, "server.redirect_listen", a.redirect(), b.redirect());
        differs(out, "server.proxy_protocol", a.proxyProtocol(), b.proxyProtocol());
        differs(out, "server.limits (request line, header size and count)",
                List.of(a.limits().maxRequestLine(), a.limits().maxHeaderSize(), a.limits().maxHeaders()),
                List.of(b.limits().maxRequestLine(), b.limits().maxHeaderSize(), b.limits().maxHeaders()));
        differs(out, "cache", running.cache(), next.cache());
        differs(out, "admin", running.admin(), next.admin());
        return out;
    }

    private static void differs(List<String> out, String what, Object before, Object after) {
        if (!Objects.equals(before, after)) {
            out.add(what);
        }
    }
}
