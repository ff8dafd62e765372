package io.streamgate;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.internal.PlatformDependent;
import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import io.streamgate.config.ProxyConfig;
import io.streamgate.config.RouteConfig;
import io.streamgate.config.ServerConfig;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.streamgate.observe.AccessLog;
import io.streamgate.observe.TrafficMeters;
import io.streamgate.policy.cache.MissCoalescer;
import io.streamgate.policy.cache.ResponseCache;
import io.streamgate.policy.ratelimit.NanoClock;
import io.streamgate.server.Gateway;
import io.streamgate.server.RestartRequired;
import io.streamgate.upstream.EndpointHealth;
import io.streamgate.upstream.Upstream;
import io.streamgate.upstream.UpstreamMonitor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.List;
import io.streamgate.upstream.ConnectHealth;
import io.streamgate.upstream.EndpointPool;
import io.streamgate.server.GatewayServer;
import io.streamgate.server.Snapshot;
import io.streamgate.server.Transport;
import io.streamgate.tls.CertificateReloader;
import io.streamgate.tls.TlsContexts;
import java.io.IOException;
import io.streamgate.upstream.UpstreamPools;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running gateway, for embedding: start it from a config, ask for the bound port, close it gracefully.
 *
 * <pre>{@code
 * try (Streamgate gw = Streamgate.start(ConfigLoader.load(Path.of("streamgate.yaml")))) {
 *     System.out.println("listening on " + gw.port());
 *     gw.closeFuture().join();
 * }
 * }</pre>
 */
public final class Streamgate implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Streamgate.class);
    private static final Duration DRAIN_POLL = Duration.ofMillis(50);
    /** How long identical cache misses wait for the first one's answer before going to the backend themselves. */
    private static final Duration CACHE_LOCK_TIMEOUT = Duration.ofSeconds(5);

    /** The active configuration; replaced by {@link #reload}. */
    private volatile ProxyConfig config;
    /** What the listeners and event loops were built from: reloads are compared with it, not with each other. */
    private final ProxyConfig startConfig;
    private final NanoClock clock;
    private final Transport transport;
    private final EventLoopGroup group;
    private final Gateway gateway;
    private final ClientListener listener;
    private final ClientListener redirect;
    private final CertificateReloader certificates;
    private final ChannelGroup connections;
    private final AtomicBoolean closing = new AtomicBoolean();
    /** Set by close() once the drain is over and before the event loops stop: reloads are refused from then on. */
    private boolean stopped; // guarded by this
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    /** Background health checks, load scrapes and model list fetches, by upstream object; guarded by this. */
    private final java.util.Map<Upstream, UpstreamMonitor> monitors = new java.util.IdentityHashMap<>();

    private Streamgate(ProxyConfig config, Transport transport, EventLoopGroup group, Gateway gateway, ClientListener listener,
                       ClientListener redirect, CertificateReloader certificates, ChannelGroup connections) {
        this.config = config;
        this.startConfig = config;
        this.clock = gateway.clock();
        this.transport = transport;
        this.group = group;
        this.gateway = gateway;
        this.listener = listener;
        this.redirect = redirect;
        this.certificates = certificates;
        this.connections = connections;
    }

    /** Reads, validates and starts from a YAML file. */
    public static Streamgate start(Path configFile) throws ConfigException {
        return start(ConfigLoader.load(configFile));
    }

    /**
     * Binds the listener(s) and returns once they accept connections; throws IllegalStateException if one cannot bind
     * or the TLS material cannot be loaded.
     */
    public static Streamgate start(ProxyConfig config) {
        return start(config, Options.defaults());
    }

    /**
     * What an embedding application may supply.
     *
     * @param registry where the gateway's meters go (a Prometheus registry in the server)
     * @param clock    time for rate limits and cache ages; tests pass a clock they move by hand
     */
    public record Options(MeterRegistry registry, NanoClock clock) {
        public static Options defaults() {
            return new Options(new SimpleMeterRegistry(), NanoClock.SYSTEM);
        }
    }

    /** As {@link #start(ProxyConfig)}, with the given meter registry and clock. */
    public static Streamgate start(ProxyConfig config, Options options) {
        ServerConfig server = config.server();
        CertificateReloader certificates = null;
        if (server.tls() != null) {
            try {
                certificates = new CertificateReloader(server.tls(), server.http2());
            } catch (IOException | RuntimeException e) {
                throw new IllegalStateException("cannot load the TLS certificates: " + e.getMessage(), e);
            }
        }
        Transport transport = Transport.select(server.transport());
        int threads = server.ioThreads() > 0 ? server.ioThreads() : Runtime.getRuntime().availableProcessors();
        EventLoopGroup group = transport.newGroup(threads);
        ChannelGroup connections = new DefaultChannelGroup("streamgate-clients", GlobalEventExecutor.INSTANCE);
        AccessLog.useFormat(config.accessLog().format());
        Gateway gateway = newGateway(config, options, transport, connections);
        ChannelInitializer<Channel> clients = GatewayServer.channelInitializer(gateway, connections, certificates);
        ClientListener listener = listen(server.host(), server.port(), group, transport, server.reusePort(), loops -> new ServerBootstrap()
                .group(loops)
                .channel(transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.SO_REUSEADDR, true)
                // No TCP_NODELAY here: every transport's socket config turns Nagle off by default, so setting it again
                // only cost a second setsockopt per connection (round 13).
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(32 * 1024, 64 * 1024))
                .childHandler(clients), certificates, null);
        ClientListener redirect = null;
        if (server.redirect() != null) {
            int tlsPort = listener.address().getPort();
            ChannelInitializer<Channel> redirects = GatewayServer.redirectInitializer(gateway, () -> tlsPort);
            redirect = listen(server.redirect().host(), server.redirect().port(), group, transport, false, loops -> new ServerBootstrap()
                    .group(loops)
                    .channel(transport.serverChannel())
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childHandler(redirects), certificates, listener);
        }
        Streamgate gw = new Streamgate(config, transport, group, gateway, listener, redirect, certificates, connections);
        gw.superviseUpstreams();
        String missing = Transport.unavailabilityReport();
        LOG.info("listening on {} ({}) with {} transport, {} event loop{}{}{}", gw.address(),
                certificates == null ? (server.h2c() ? "HTTP/1.1 and h2c" : "HTTP/1.1")
                        : "TLS by " + TlsContexts.providerName() + (server.http2() ? ", h2 and HTTP/1.1" : ", HTTP/1.1"),
                transport.name(), threads, threads == 1 ? "" : "s",
                listener.sockets() > 1 ? " accepting on a socket each (reuse_port)" : "",
                missing.isEmpty() || transport.name().equals("io_uring") ? "" : " (" + missing + ")");
        if (redirect != null) {
            LOG.info("redirecting plain HTTP on {} to HTTPS", redirect.address());
        }
        if (Runtime.version().feature() >= 24 && !PlatformDependent.hasUnsafe()) {
            // Netty stops using sun.misc.Unsafe on Java 24+ unless allowed; its fallback buffer access costs about
            // 8 % more CPU per proxied request here (docs/performance.md, "Which Java").
            LOG.info("Netty runs without sun.misc.Unsafe on Java {}: start java with --sun-misc-unsafe-memory-access=allow"
                    + " for less CPU per request", Runtime.version().feature());
        }
        return gw;
    }

    private static Gateway newGateway(ProxyConfig config, Options options, Transport transport, ChannelGroup connections) {
        ResponseCache cache = new ResponseCache(config.cache(), options.clock()::nanoTime);
        TrafficMeters meters = new TrafficMeters(options.registry());
        UpstreamPools[] pools = new UpstreamPools[1];
        pools[0] = new UpstreamPools(transport, (upstream, endpoint) -> {
            String[] tags = {"upstream", upstream, "endpoint", endpoint};
            UpstreamPools p = pools[0];
            meters.gauge("streamgate.upstream.connections", "connections open to the endpoint (leased or idle)",
                    p, x -> x.sum(endpoint, EndpointPool::publishedOpen), tags);
            meters.gauge("streamgate.upstream.connections.idle", "idle pooled connections to the endpoint",
                    p, x -> x.sum(endpoint, EndpointPool::publishedIdle), tags);
            meters.gauge("streamgate.upstream.pending", "requests waiting for a connection to the endpoint",
                    p, x -> x.sum(endpoint, EndpointPool::publishedPending), tags);
            ConnectHealth health = p.health(endpoint);
            meters.gauge("streamgate.upstream.up", "1 while the last connection attempt to the endpoint succeeded",
                    health, h -> h.up() ? 1 : 0, tags);
            meters.functionCounter("streamgate.upstream.connect.failures", "failed connection attempts to the endpoint",
                    health, ConnectHealth::failures, tags);
        });
        Gateway gateway = new Gateway(Snapshot.of(config, options.clock()), pools[0], cache,
                new MissCoalescer(CACHE_LOCK_TIMEOUT), meters, options.clock());
        meters.gauge("streamgate.connections.active", "client connections open", connections, ChannelGroup::size);
        meters.gauge("streamgate.requests.active", "requests in flight", gateway, Gateway::activeExchanges);
        meters.gauge("streamgate.streams.active", "event streams being relayed", gateway, Gateway::activeStreams);
        meters.bindRuntime();
        meters.gauge("streamgate.cache.entries", "responses held by the cache", cache, ResponseCache::entries);
        meters.gauge("streamgate.cache.size.bytes", "bytes held by the cache", cache, ResponseCache::weightedSize);
        meters.functionCounter("streamgate.cache.evictions", "entries evicted to stay within cache.max_size", cache,
                ResponseCache::evictions);
        meters.gauge("streamgate.ratelimit.store.available", "1 while the shared rate-limit store answers", gateway,
                g -> g.snapshot().rateLimiters().storeAvailable() ? 1 : 0);
        meters.functionCounter("streamgate.ratelimit.store.failures", "calls to the shared rate-limit store that failed",
                gateway, g -> g.snapshot().rateLimiters().storeFailures());
        meters.functionCounter("streamgate.ratelimit.store.fallbacks", "acquires answered by local buckets while the store failed",
                gateway, g -> g.snapshot().rateLimiters().fallbackAcquires());
        return gateway;
    }

    /** Binds, or undoes everything started so far and throws. */
    private static ClientListener listen(String host, int port, EventLoopGroup group, Transport transport, boolean perLoop,
                                         Function<EventLoopGroup, ServerBootstrap> bootstrap,
                                         CertificateReloader certificates, ClientListener alreadyBound) {
        try {
            return ClientListener.bind(host, port, group, transport, perLoop, bootstrap);
        } catch (IllegalStateException e) {
            if (alreadyBound != null) {
                alreadyBound.close();
            }
            if (certificates != null) {
                certificates.close();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    public int port() {
        return address().getPort();
    }

    public InetSocketAddress address() {
        return listener.address();
    }

    public String transportName() {
        return transport.name();
    }

    public ProxyConfig config() {
        return config;
    }

    /** The meters of this gateway. */
    public MeterRegistry meters() {
        return gateway.meters().registry();
    }

    /**
     * Removes cached responses: those of {@code route} when it is not null, and those whose key starts with
     * {@code keyPrefix} (e.g. {@code "GET api.example.com/v1/models"}) when it is not null. Returns how many.
     */
    public long purgeCache(String route, String keyPrefix) {
        long n = 0;
        if (route != null) {
            n += gateway.cache().purgeRoute(route);
        }
        if (keyPrefix != null) {
            n += gateway.cache().purgePrefix(keyPrefix);
        }
        return n;
    }

    /**
     * What a reload did not apply because it needs a restart (listener addresses, TLS, protocols, the cache's size):
     * one line per setting, empty when everything was applied.
     */
    public record ReloadResult(List<String> restartNeeded) {
    }

    /**
     * Switches to {@code next}, a fully validated configuration: new requests use it at once, requests and streams in
     * flight finish on the one they started with. Upstreams and rate limits whose settings did not change keep their
     * pools and buckets. Settings that cannot change on a running listener keep their old values and are reported.
     * Call it off the event loops (a replaced Redis client is closed here). While {@link #close} drains, a reload is
     * still applied; once the drain is over it is refused.
     *
     * @throws IllegalArgumentException when {@code next} cannot be compiled; the active configuration stays
     * @throws IllegalStateException    when the gateway has stopped (or is stopping after its drain); nothing changes
     */
    public synchronized ReloadResult reload(ProxyConfig next) {
        if (stopped) {
            throw new IllegalStateException("the gateway has stopped: reload refused");
        }
        Snapshot old = gateway.snapshot();
        Snapshot fresh = Snapshot.of(next, clock, old);
        List<String> restart = RestartRequired.between(startConfig, next);
        List<Upstream> replaced = new ArrayList<>();
        for (Upstream u : old.upstreams().values()) {
            if (!fresh.upstreams().containsValue(u)) {
                replaced.add(u);
            }
        }
        gateway.swap(fresh);
        // Entries were stored under the rules of the route that made them (shared or per key, its upstream, its
        // rewrite...): those of a route that changed or is gone are dropped, so none outlives the rules it was made by.
        Map<String, RouteConfig> nextRoutes = new HashMap<>();
        for (RouteConfig route : next.routes()) {
            nextRoutes.put(route.name(), route);
        }
        for (RouteConfig route : config.routes()) {
            if (!route.equals(nextRoutes.get(route.name()))) {
                gateway.cache().purgeRoute(route.name());
            }
        }
        gateway.cache().maxEntrySize(next.cache().maxEntrySize());
        config = next;
        AccessLog.useFormat(next.accessLog().format());
        gateway.pools().retire(replaced);
        superviseUpstreams();
        old.rateLimiters().retire(fresh.rateLimiters());
        LOG.info("configuration reloaded from {}: {} routes, {} upstreams ({} replaced){}", next.source(),
                next.routes().size(), next.upstreams().size(), replaced.size(),
                restart.isEmpty() ? "" : "; needs a restart to apply: " + String.join("; ", restart));
        return new ReloadResult(List.copyOf(restart));
    }

    /**
     * Announces shutdown without stopping: {@code draining()} turns true (so /readyz fails and load balancers move
     * away) and responses close their connections, while the listener still accepts. {@link #close} follows.
     */
    public void announceShutdown() {
        gateway.startDraining();
    }

    /** Whether shutdown has begun: no new work should be sent here. */
    public boolean draining() {
        return gateway.draining();
    }

    /**
     * One endpoint as the gateway sees it: its upstream; connections summed over the event loops (open, leased or
     * idle; idle; requests waiting for one); whether the last attempt to connect succeeded; its health state
     * (healthy, unhealthy, ejected, open, half_open, slow_start), whether it takes requests now, and the requests
     * in flight on it.
     */
    public record EndpointState(String upstream, int open, int idle, int pending, boolean up, long connectFailures,
                                String state, boolean available, int inFlight, boolean activelyChecked) {
    }

    /** The state of every upstream endpoint, by endpoint URL, in config order. */
    public java.util.Map<String, EndpointState> endpointStates() {
        java.util.Map<String, EndpointState> out = new java.util.LinkedHashMap<>();
        Snapshot snapshot = gateway.snapshot();
        long now = System.nanoTime();
        for (var upstreamConfig : snapshot.config().upstreams().values()) {
            Upstream upstream = snapshot.upstreams().get(upstreamConfig.name());
            for (int i = 0; i < upstreamConfig.endpoints().size(); i++) {
                String name = upstreamConfig.endpoints().get(i).toString();
                ConnectHealth connects = gateway.pools().health(name);
                var health = upstream.health(i);
                out.put(name, new EndpointState(upstreamConfig.name(), gateway.pools().sum(name, EndpointPool::publishedOpen),
                        gateway.pools().sum(name, EndpointPool::publishedIdle),
                        gateway.pools().sum(name, EndpointPool::publishedPending), connects.up(), connects.failures(),
                        health.state(now).label(), health.available(), upstream.inFlight(i),
                        upstreamConfig.health().check() != null));
            }
        }
        return out;
    }

    /**
     * Starts the monitors the current snapshot's upstreams need and stops those of upstreams it no longer has; registers
     * each endpoint's state meters (which look the endpoint up by name, so they follow reloads).
     */
    private synchronized void superviseUpstreams() {
        if (closing.get()) {
            return; // close() stopped the monitors for good: a reload while draining must not start them again
        }
        Snapshot snapshot = gateway.snapshot();
        java.util.Set<String> modelRouted = new java.util.HashSet<>();
        for (var r : snapshot.config().routes()) {
            if (r.models() != null) {
                modelRouted.addAll(r.models().upstreams());
            }
        }
        var current = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<Upstream, Boolean>());
        current.addAll(snapshot.upstreams().values());
        monitors.entrySet().removeIf(e -> {
            // Gone, or kept by a reload that starts or stops routing by model over it: model discovery must follow.
            if (!current.contains(e.getKey())
                    || e.getValue().discoversModels() != modelRouted.contains(e.getKey().config().name())) {
                e.getValue().stop();
                return true;
            }
            return false;
        });
        for (Upstream u : snapshot.upstreams().values()) {
            if (!monitors.containsKey(u)) {
                UpstreamMonitor m = UpstreamMonitor.start(u, group.next(), gateway.pools().template(),
                        modelRouted.contains(u.config().name()));
                if (m != null) {
                    monitors.put(u, m);
                }
            }
            for (var e : u.config().endpoints()) {
                registerEndpointMeters(u.config().name(), e.toString());
            }
            String name = u.config().name(); // the meter keeps the name, not this (replaceable) upstream
            gateway.meters().gauge("streamgate.upstream.queue.waiting", "requests waiting for a free endpoint (max_in_flight)",
                    gateway, g -> upstreamOf(g, name) == null ? 0 : upstreamOf(g, name).queued(), "upstream", name);
        }
    }

    private void registerEndpointMeters(String upstream, String endpoint) {
        String[] tags = {"upstream", upstream, "endpoint", endpoint};
        gateway.meters().gauge("streamgate.upstream.endpoint.available", "1 while the endpoint takes requests (healthy, "
                + "not ejected, breaker not open)", gateway, g -> endpointValue(g, upstream, endpoint, -1), tags);
        gateway.meters().gauge("streamgate.upstream.endpoint.in.flight", "requests in flight on the endpoint from this gateway",
                gateway, g -> endpointValue(g, upstream, endpoint, -2), tags);
        for (var state : EndpointHealth.State.values()) {
            gateway.meters().gauge("streamgate.upstream.endpoint.state", "1 for the endpoint's current health state",
                    gateway, g -> endpointValue(g, upstream, endpoint, state.ordinal()),
                    "upstream", upstream, "endpoint", endpoint, "state", state.label());
        }
    }

    private static Upstream upstreamOf(Gateway g, String name) {
        return g.snapshot().upstreams().get(name);
    }

    /** what: -1 available, -2 in flight, else 1 when the state with that ordinal is the current one. */
    private static double endpointValue(Gateway g, String upstream, String endpoint, int what) {
        Upstream u = upstreamOf(g, upstream);
        if (u == null) {
            return Double.NaN; // removed by a reload
        }
        var endpoints = u.config().endpoints();
        for (int i = 0; i < endpoints.size(); i++) {
            if (endpoints.get(i).toString().equals(endpoint)) {
                return switch (what) {
                    case -1 -> u.health(i).available() ? 1 : 0;
                    case -2 -> u.inFlight(i);
                    default -> u.health(i).state(System.nanoTime()).ordinal() == what ? 1 : 0;
                };
            }
        }
        return Double.NaN;
    }

    /** Requests in flight right now. */
    public int activeRequests() {
        return gateway.activeExchanges();
    }

    /** Completes once the gateway has fully stopped. */
    public CompletableFuture<Void> closeFuture() {
        return closed;
    }

    /** Graceful close with the configured drain timeout; blocks until done. Never call from an event loop. */
    @Override
    public void close() {
        close(config.server().drainTimeout());
    }

    /**
     * Stops accepting, closes idle connections, lets in-flight requests and streams finish for up to {@code drain},
     * then closes everything. Blocks until done.
     */
    public void close(Duration drain) {
        if (closing.compareAndSet(false, true)) {
            LOG.info("shutting down: draining {} in-flight requests for up to {} ms", gateway.activeExchanges(), drain.toMillis());
            // Known before any connection is closed: an exchange cut from then on was cut by the drain, not left by
            // its client, and HTTP/2 connections closed below cut their streams by a timer that ends there too.
            long deadline = System.nanoTime() + drain.toNanos();
            gateway.drainUntil(deadline);
            gateway.startDraining();
            listener.close();
            if (redirect != null) {
                redirect.close();
            }
            if (certificates != null) {
                certificates.close();
            }
            synchronized (this) {
                monitors.values().forEach(UpstreamMonitor::stop);
                monitors.clear();
            }
            GatewayServer.closeIdleConnections(connections, deadline);
            gateway.pools().closeIdle();
            CompletableFuture<Void> drained = new CompletableFuture<>();
            waitForDrain(deadline, drained);
            drained.join();
            synchronized (this) {
                // A reload from now on would hand work to event loops that are going away (and leave a Redis client
                // it made open); one already running has finished, so the snapshot closed below is the last one.
                stopped = true;
            }
            GatewayServer.closeAll(connections, deadline).awaitUninterruptibly();
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
            gateway.snapshot().rateLimiters().close(); // may block briefly on Redis; we are off the event loops here
            gateway.meters().close();
            LOG.info("stopped");
            closed.complete(null);
        }
        closed.join();
    }

    /** Completes {@code drained} on a loop once no request is in flight or the deadline has passed. */
    private void waitForDrain(long deadline, CompletableFuture<Void> drained) {
        group.next().schedule(() -> {
            if (gateway.activeExchanges() > 0 && System.nanoTime() < deadline) {
                waitForDrain(deadline, drained);
                return;
            }
            if (gateway.activeExchanges() > 0) {
                LOG.warn("drain timeout: closing {} requests still in flight", gateway.activeExchanges());
            }
            drained.complete(null);
        }, DRAIN_POLL.toNanos(), TimeUnit.NANOSECONDS);
    }
}
