package io.streamgate.server.admin;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.streamgate.config.ProxyConfig;
import io.streamgate.config.UpstreamConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Whether each upstream has at least one endpoint that accepts a TCP connection right now, for {@code /readyz}.
 * A connection that opens is closed at once. Until active health checks exist this is the honest signal we have:
 * a gateway whose backends all refuse connections should not receive traffic. Runs on the admin loop.
 */
final class UpstreamProbe {
    private static final int CONNECT_TIMEOUT_MILLIS = 1000;

    /** Endpoint states by upstream, each endpoint "up" or "down". */
    record Result(Map<String, Map<String, String>> upstreams) {
        boolean everyUpstreamHasAnEndpointUp() {
            return upstreams.values().stream().allMatch(endpoints -> endpoints.containsValue("up"));
        }
    }

    private UpstreamProbe() {
    }

    static CompletableFuture<Result> probe(ProxyConfig config, EventLoop loop) {
        Map<String, Map<String, String>> states = new LinkedHashMap<>();
        List<CompletableFuture<Void>> pending = new ArrayList<>();
        for (UpstreamConfig upstream : config.upstreams().values()) {
            Map<String, String> endpoints = new LinkedHashMap<>();
            states.put(upstream.name(), endpoints);
            for (UpstreamConfig.Endpoint e : upstream.endpoints()) {
                CompletableFuture<Void> done = new CompletableFuture<>();
                pending.add(done);
                ChannelFuture f = new Bootstrap().group(loop).channel(NioSocketChannel.class)
                        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, CONNECT_TIMEOUT_MILLIS)
                        .handler(new ChannelInboundHandlerAdapter())
                        .connect(e.host(), e.port());
                f.addListener(c -> {
                    // Written on the admin loop only, so the maps need no locking.
                    endpoints.put(e.toString(), c.isSuccess() ? "up" : "down");
                    if (c.isSuccess()) {
                        f.channel().close();
                    }
                    done.complete(null);
                });
            }
        }
        return CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).thenApply(v -> new Result(states));
    }
}
