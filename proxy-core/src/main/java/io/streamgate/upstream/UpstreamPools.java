package io.streamgate.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.WriteBufferWaterMark;
import io.streamgate.config.UpstreamConfig;
import io.streamgate.server.Transport;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.BiConsumer;
import java.util.function.ToIntFunction;

/**
 * All upstream connection pools, one set per event loop: an exchange leases from the pool of its client channel's
 * loop, so request and response are relayed without crossing threads. Within a loop, pools are found by the
 * {@link Upstream} object and the endpoint's index, which costs no allocation per request.
 */
public final class UpstreamPools {
    private final Bootstrap template;
    private final Map<EventLoop, Map<Upstream, EndpointPool[]>> byLoop = new ConcurrentHashMap<>();
    /** Connect outcomes by endpoint name, shared by that endpoint's pools on every loop. */
    private final Map<String, ConnectHealth> health = new ConcurrentHashMap<>();
    /** Every pool by endpoint name, for meters summing over the loops. */
    private final Map<String, Queue<EndpointPool>> byEndpoint = new ConcurrentHashMap<>();
    private final BiConsumer<String, String> newEndpoint;

    /**
     * @param newEndpoint told (upstream name, endpoint name) the first time a pool to an endpoint is made, so meters
     *                    can be registered for it
     */
    public UpstreamPools(Transport transport, BiConsumer<String, String> newEndpoint) {
        this.newEndpoint = newEndpoint;
        this.template = new Bootstrap()
                .channel(transport.clientChannel())
                .resolver(OffLoopResolver.INSTANCE)
                .option(ChannelOption.AUTO_READ, false) // TCP_NODELAY is every transport's default already
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(32 * 1024, 64 * 1024));
    }

    /** The connect outcomes of an endpoint (created on first use). */
    public ConnectHealth health(String endpointName) {
        return health.computeIfAbsent(endpointName, n -> new ConnectHealth());
    }

    /** The pool for endpoint number {@code endpoint} of {@code upstream} on {@code loop}; call on that loop. */
    public EndpointPool pool(EventLoop loop, Upstream upstream, int endpoint) {
        assert loop.inEventLoop();
        if (upstream.retired()) {
            // A request of the old snapshot (queued, or retrying) after a reload: one connection for it, not kept.
            UpstreamConfig.Endpoint e = upstream.config().endpoints().get(endpoint);
            EndpointPool once = newPool(loop, upstream, e);
            once.retire();
            return once;
        }
        Map<Upstream, EndpointPool[]> pools = byLoop.get(loop);
        if (pools == null) {
            pools = byLoop.computeIfAbsent(loop, l -> new IdentityHashMap<>());
        }
        EndpointPool[] forUpstream = pools.get(upstream);
        if (forUpstream == null) {
            forUpstream = new EndpointPool[upstream.config().endpoints().size()];
            pools.put(upstream, forUpstream);
        }
        EndpointPool pool = forUpstream[endpoint];
        if (pool == null) {
            UpstreamConfig.Endpoint e = upstream.config().endpoints().get(endpoint);
            pool = newPool(loop, upstream, e);
            forUpstream[endpoint] = pool;
            String name = pool.endpointName();
            // Each loop makes its own pool, possibly at the same moment as another: only the loop whose queue
            // insertion wins tells about the endpoint (two would register its meters twice).
            Queue<EndpointPool> fresh = new ConcurrentLinkedQueue<>();
            Queue<EndpointPool> existing = byEndpoint.putIfAbsent(name, fresh);
            (existing == null ? fresh : existing).add(pool);
            if (existing == null) {
                newEndpoint.accept(upstream.config().name(), name);
            }
        }
        return pool;
    }

    private EndpointPool newPool(EventLoop loop, Upstream upstream, UpstreamConfig.Endpoint e) {
        return new EndpointPool(loop, template, e, upstream.config().pool(), health(e.toString()), upstream.ssl(),
                upstream.config().tls().serverName());
    }

    /** The bootstrap every upstream connection is cloned from (channel type and options), for background fetches. */
    public Bootstrap template() {
        return template;
    }

    /** A pool count summed over the loops, for meters: {@code count} is one of EndpointPool's published getters. */
    public int sum(String endpointName, ToIntFunction<EndpointPool> count) {
        Queue<EndpointPool> pools = byEndpoint.get(endpointName);
        int total = 0;
        if (pools != null) {
            for (EndpointPool p : pools) {
                total += count.applyAsInt(p);
            }
        }
        return total;
    }

    /**
     * Forgets the pools of upstreams a reload replaced: their idle connections are closed now, leased ones when their
     * exchange ends (a retired pool keeps nothing idle).
     */
    public void retire(java.util.Collection<Upstream> replaced) {
        replaced.forEach(Upstream::retire);
        byLoop.forEach((loop, pools) -> loop.execute(() -> {
            for (Upstream u : replaced) {
                EndpointPool[] array = pools.remove(u);
                if (array != null) {
                    for (EndpointPool p : array) {
                        if (p != null) {
                            p.retire();
                            Queue<EndpointPool> named = byEndpoint.get(p.endpointName());
                            if (named != null) {
                                named.remove(p);
                            }
                        }
                    }
                }
            }
        }));
    }

    /** Closes idle connections on every loop; leased ones close when their exchange ends. */
    public void closeIdle() {
        byLoop.forEach((loop, pools) -> loop.execute(() -> pools.values().forEach(array -> {
            for (EndpointPool p : array) {
                if (p != null) {
                    p.closeIdle();
                }
            }
        })));
    }
}
