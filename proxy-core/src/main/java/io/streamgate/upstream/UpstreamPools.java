package io.streamgate.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.WriteBufferWaterMark;
import io.streamgate.config.UpstreamConfig;
import io.streamgate.config.UpstreamConfig.Endpoint;
import io.streamgate.server.Transport;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * All upstream connection pools, one set per event loop: an exchange leases from the pool of its client channel's
 * loop, so request and response are relayed without crossing threads.
 */
public final class UpstreamPools {
    private final Bootstrap template;
    private final Map<EventLoop, Map<PoolKey, EndpointPool>> byLoop = new ConcurrentHashMap<>();

    public UpstreamPools(Transport transport) {
        this.template = new Bootstrap()
                .channel(transport.clientChannel())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(32 * 1024, 64 * 1024));
    }

    /** The pool for this endpoint on {@code loop}; call on that loop. */
    public EndpointPool pool(EventLoop loop, UpstreamConfig upstream, Endpoint endpoint) {
        assert loop.inEventLoop();
        Map<PoolKey, EndpointPool> pools = byLoop.computeIfAbsent(loop, l -> new HashMap<>());
        return pools.computeIfAbsent(new PoolKey(upstream.name(), upstream.pool(), endpoint),
                k -> new EndpointPool(loop, template, endpoint, upstream.pool()));
    }

    /** Closes idle connections on every loop; leased ones close when their exchange ends. */
    public void closeIdle() {
        byLoop.forEach((loop, pools) -> loop.execute(() -> pools.values().forEach(EndpointPool::closeIdle)));
    }

    /** Pools are per upstream name, so two upstreams naming the same endpoint keep their own limits. */
    private record PoolKey(String upstream, UpstreamConfig.Pool settings, Endpoint endpoint) {
    }
}
