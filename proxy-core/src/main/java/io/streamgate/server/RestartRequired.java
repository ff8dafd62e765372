package io.streamgate.server;

import io.streamgate.config.ProxyConfig;
import io.streamgate.config.ServerConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The settings a reload cannot apply to a running gateway: they shape the listening sockets, the event loops, the TLS
 * contexts, or the size of structures built once. Everything else is applied live: routes, upstreams, policies, keys,
 * and the per-connection settings (limits, h2c, PROXY protocol, stream limits), which new connections take up while
 * open ones keep what they were set up with.
 */
public final class RestartRequired {
    private RestartRequired() {
    }

    /**
     * One line per setting that differs between {@code running} (the configuration the process started with) and
     * {@code next} and needs a restart.
     */
    public static List<String> between(ProxyConfig running, ProxyConfig next) {
        List<String> out = new ArrayList<>();
        ServerConfig a = running.server();
        ServerConfig b = next.server();
        differs(out, "server.listen", a.host() + ":" + a.port(), b.host() + ":" + b.port());
        differs(out, "server.transport", a.transport(), b.transport());
        differs(out, "server.io_threads", a.ioThreads(), b.ioThreads());
        differs(out, "server.reuse_port", a.reusePort(), b.reusePort());
        differs(out, "server.tls", a.tls(), b.tls());
        differs(out, "server.http2", a.http2(), b.http2());
        differs(out, "server.redirect_listen", a.redirect(), b.redirect());
        differs(out, "cache.max_size", running.cache().maxSize(), next.cache().maxSize());
        differs(out, "admin", running.admin(), next.admin());
        return out;
    }

    private static void differs(List<String> out, String what, Object before, Object after) {
        if (!Objects.equals(before, after)) {
            out.add(what);
        }
    }
}
