package io.streamgate.server.admin;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.streamgate.Streamgate;
import io.streamgate.upstream.OffLoopResolver;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Each endpoint's state for {@code /readyz}: the gateway's own view (healthy, unhealthy, ejected, open, half_open,
 * slow_start), and for upstreams without an active health check a TCP connect now, since without one the gateway
 * would not otherwise notice a backend that refuses connections until a request fails ("unreachable"). An upstream
 * is ready when one of its endpoints takes requests. Runs on the admin loop.
 */
final class UpstreamProbe {
    private static final int CONNECT_TIMEOUT_MILLIS = 1000;
    private static final Set<String> TAKING_REQUESTS = Set.of("healthy", "slow_start", "half_open");

    /** Endpoint states by upstream. */
    record Result(Map<String, Map<String, String>> upstreams) {
        boolean everyUpstreamHasAnEndpointUp() {
            return upstreams.values().stream().allMatch(endpoints -> endpoints.values().stream().anyMatch(TAKING_REQUESTS::contains));
        }
    }

    private UpstreamProbe() {
    }

    static CompletableFuture<Result> probe(Streamgate gateway, EventLoop loop) {
        Map<String, Map<String, String>> states = new LinkedHashMap<>();
        List<CompletableFuture<Void>> pending = new ArrayList<>();
        for (Map.Entry<String, Streamgate.EndpointState> e : gateway.endpointStates().entrySet()) {
            Streamgate.EndpointState s = e.getValue();
            Map<String, String> endpoints = states.computeIfAbsent(s.upstream(), u -> new LinkedHashMap<>());
            String name = e.getKey();
            endpoints.put(name, s.state());
            if (s.activelyChecked() || !s.available()) {
                continue;
            }
            CompletableFuture<Void> done = new CompletableFuture<>();
            pending.add(done);
            java.net.URI uri = java.net.URI.create(name);
            ChannelFuture f = new Bootstrap().group(loop).channel(NioSocketChannel.class)
                    .resolver(OffLoopResolver.INSTANCE)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, CONNECT_TIMEOUT_MILLIS)
                    .handler(new ChannelInboundHandlerAdapter())
                    .connect(uri.getHost().replace("[", "").replace("]", ""), uri.getPort());
            f.addListener(c -> {
                // Written on the admin loop only, so the maps need no locking.
                if (c.isSuccess()) {
                    f.channel().close();
                } else {
                    endpoints.put(name, "unreachable");
                }
                done.complete(null);
            });
        }
        return CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).thenApply(v -> new Result(states));
    }
}
