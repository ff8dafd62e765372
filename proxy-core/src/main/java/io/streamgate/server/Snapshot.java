package io.streamgate.server;

import io.streamgate.config.ProxyConfig;
import io.streamgate.config.UpstreamConfig;
import io.streamgate.route.Router;
import io.streamgate.upstream.Upstream;
import java.util.HashMap;
import java.util.Map;

/** A config and what is compiled from it, swapped as one. An exchange keeps the snapshot it started with. */
public record Snapshot(ProxyConfig config, Router router, Map<String, Upstream> upstreams) {
    public static Snapshot of(ProxyConfig config) {
        Map<String, Upstream> upstreams = new HashMap<>();
        for (UpstreamConfig u : config.upstreams().values()) {
            upstreams.put(u.name(), new Upstream(u));
        }
        return new Snapshot(config, new Router(config.routes()), Map.copyOf(upstreams));
    }
}
