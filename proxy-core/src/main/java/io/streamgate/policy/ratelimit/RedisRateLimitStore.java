package io.streamgate.policy.ratelimit;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.metrics.CommandLatencyRecorder;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.streamgate.config.RedisConfig;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Redis connection shared by all REDIS rules of one configuration, and its health.
 *
 * <p>One Lettuce client with its own small resources (one I/O and one computation thread). Connecting is
 * asynchronous and runs on Lettuce's computation thread, so neither building the limiters nor a request on an
 * event loop ever waits for it (a host name may need a blocking DNS lookup). Lettuce's own reconnection is off:
 * a failed command drops the connection and the next attempt opens a new one, so a down server costs one failed
 * connect per back-off, and a restarted one is picked up by the next attempt.
 *
 * <p>Each script call is bounded by {@code RedisConfig.timeout()} (Lettuce's command timeout); the first call on
 * a connection loads the script as it opens (EVAL remains the fallback should the server lose it), and a request
 * arriving while a connection is being opened waits for it at most the connect timeout (at least
 * MIN_CONNECT_TIMEOUT), so a gateway's first requests are not refused while Redis is merely being dialled.
 *
 * <p>While Redis fails, requests do not each wait for the timeout: after a failure Redis is skipped for
 * {@link #BACKOFF} (the failure mode answers at once), then a single request probes it. Transitions are logged
 * once: WARN when it stops answering, INFO when it answers again.
 *
 * <p>Thread-safe.
 */
final class RedisRateLimitStore implements AutoCloseable {
    static final Duration BACKOFF = Duration.ofSeconds(1);
    private static final Logger LOG = LoggerFactory.getLogger(RedisRateLimitStore.class);
    private static final Duration MIN_CONNECT_TIMEOUT = Duration.ofSeconds(1);
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(2);
    private static final VarHandle CONNECTION;
    private static final VarHandle AVAILABLE;
    private static final VarHandle RETRY_AT;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            CONNECTION = lookup.findVarHandle(RedisRateLimitStore.class, "connection", CompletableFuture.class);
            AVAILABLE = lookup.findVarHandle(RedisRateLimitStore.class, "available", boolean.class);
            RETRY_AT = lookup.findVarHandle(RedisRateLimitStore.class, "retryAt", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final RedisConfig config;
    private final NanoClock clock;
    private final RedisURI uri;
    private final String address;
    private final long timeoutNanos;
    /** A request arriving while a connection opens waits this long for it (a refused connect fails at once). */
    private final long connectTimeoutNanos;
    private final ClientResources resources;
    private final RedisClient client;
    final LongAdder failures = new LongAdder();
    final LongAdder fallbacks = new LongAdder();
    final LongAdder closedRefusals = new LongAdder();

    /** The current or pending connection; null after it failed, until the next attempt. */
    private volatile CompletableFuture<StatefulRedisConnection<String, String>> connection;
    /** Optimistic until something fails, so requests during the first connect wait for it rather than skip. */
    private volatile boolean available = true;
    /** While unavailable: the {@link NanoClock} time from which one request may probe Redis again. */
    private volatile long retryAt;
    private volatile boolean closed;

    /** @throws IllegalArgumentException if the URI is not a valid Redis URI */
    RedisRateLimitStore(RedisConfig config, NanoClock clock) {
        this.config = config;
        this.clock = clock;
        this.uri = RedisURI.create(config.uri());
        this.uri.setTimeout(config.timeout());
        this.address = uri.getHost() + ":" + uri.getPort(); // never the URI itself: it may hold a password
        this.timeoutNanos = config.timeout().toNanos();
        this.connectTimeoutNanos = Math.max(timeoutNanos, MIN_CONNECT_TIMEOUT.toNanos());
        this.resources = DefaultClientResources.builder()
                .ioThreadPoolSize(1)
                .computationThreadPoolSize(1)
                .commandLatencyRecorder(CommandLatencyRecorder.disabled())
                .build();
        this.client = RedisClient.create(resources, uri);
        Duration connectTimeout = config.timeout().compareTo(MIN_CONNECT_TIMEOUT) > 0
                ? config.timeout() : MIN_CONNECT_TIMEOUT;
        client.setOptions(ClientOptions.builder()
                .autoReconnect(false)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .socketOptions(SocketOptions.builder().connectTimeout(connectTimeout).build())
                .timeoutOptions(TimeoutOptions.enabled(config.timeout()))
                .build());
        connection();
    }

    RedisConfig config() {
        return config;
    }

    boolean available() {
        return available;
    }

    /**
     * Whether this request should try Redis: always while it answers; while it does not, only the one request
     * that claims the probe once the back-off has passed.
     */
    boolean shouldTry() {
        if (available) {
            return true;
        }
        long now = clock.nanoTime();
        long at = retryAt;
        return now - at >= 0 && RETRY_AT.compareAndSet(this, at, now + BACKOFF.toNanos());
    }

    /**
     * Runs the GCRA script on {@code key}; completes with its integer result, or exceptionally on any failure
     * (already counted and logged). Completes on a Lettuce thread, or already on return when Lettuce rejects the
     * command at once (not connected).
     */
    CompletableFuture<Long> run(String key, String[] args) {
        CompletableFuture<StatefulRedisConnection<String, String>> pending = connection();
        CompletableFuture<Long> result = new CompletableFuture<>();
        if (pending.isDone() && !pending.isCompletedExceptionally()) {
            evaluate(pending, pending.join(), key, args, result);
        } else {
            // Connect failures are counted where the connect completes, not by every request that waited.
            pending.copy().orTimeout(connectTimeoutNanos, TimeUnit.NANOSECONDS).whenComplete((c, error) -> {
                if (error != null) {
                    result.completeExceptionally(error);
                } else {
                    evaluate(pending, c, key, args, result);
                }
            });
        }
        return result;
    }

    private void evaluate(CompletableFuture<StatefulRedisConnection<String, String>> pending,
            StatefulRedisConnection<String, String> c, String key, String[] args, CompletableFuture<Long> result) {
        RedisAsyncCommands<String, String> commands = c.async();
        String[] keys = {key};
        commands.<Long>evalsha(GcraScript.SHA1, ScriptOutputType.INTEGER, keys, args)
                .exceptionallyCompose(error -> unwrap(error) instanceof RedisNoScriptException
                        ? commands.<Long>eval(GcraScript.SOURCE, ScriptOutputType.INTEGER, keys, args)
                        : CompletableFuture.failedStage(error))
                .whenComplete((value, error) -> {
                    if (error == null) {
                        markAvailable();
                        result.complete(value);
                    } else {
                        if (!closed) { // a call cut by close() says nothing about Redis
                            recordFailure(unwrap(error));
                        }
                        discard(pending);
                        result.completeExceptionally(error);
                    }
                });
    }

    /** The open connection, the one being opened, or a new attempt if there is neither. */
    private CompletableFuture<StatefulRedisConnection<String, String>> connection() {
        while (true) {
            CompletableFuture<StatefulRedisConnection<String, String>> current = connection;
            if (current != null && !current.isCompletedExceptionally()) {
                if (!current.isDone() || current.join().isOpen()) {
                    return current;
                }
                discard(current);
                continue;
            }
            CompletableFuture<StatefulRedisConnection<String, String>> next = new CompletableFuture<>();
            if (CONNECTION.compareAndSet(this, current, next)) {
                connect(next);
                return next;
            }
        }
    }

    private void connect(CompletableFuture<StatefulRedisConnection<String, String>> target) {
        try {
            resources.eventExecutorGroup().execute(() -> {
                try {
                    // The script is loaded with the connection, so a first request pays one round trip, not two.
                    client.connectAsync(StringCodec.UTF8, uri)
                            .thenCompose(c -> c.async().scriptLoad(GcraScript.SOURCE).<StatefulRedisConnection<String, String>>handle((sha, e) -> {
                                if (e != null) {
                                    c.closeAsync(); // opened, but unusable: do not leave it behind
                                    throw new CompletionException(e);
                                }
                                return c;
                            }))
                            .whenComplete((c, error) -> {
                                if (error == null) {
                                    target.complete(c);
                                } else {
                                    connectFailed(target, unwrap(error));
                                }
                            });
                } catch (RuntimeException e) {
                    connectFailed(target, e); // the client is shutting down
                }
            });
        } catch (RejectedExecutionException e) {
            target.completeExceptionally(e); // closed
        }
    }

    private void connectFailed(CompletableFuture<StatefulRedisConnection<String, String>> target, Throwable error) {
        if (!closed) {
            recordFailure(error);
        }
        target.completeExceptionally(error);
    }

    /** Forgets {@code c} (if still current) so that the next attempt reconnects, and closes it. */
    private void discard(CompletableFuture<StatefulRedisConnection<String, String>> c) {
        if (CONNECTION.compareAndSet(this, c, null)) {
            c.thenAccept(StatefulRedisConnection::closeAsync);
        }
    }

    private void recordFailure(Throwable cause) {
        failures.increment();
        retryAt = clock.nanoTime() + BACKOFF.toNanos();
        if (AVAILABLE.compareAndSet(this, true, false)) {
            LOG.warn("Redis rate-limit store unreachable at {} ({}); {} until it answers again, retrying every {}",
                    address, cause.toString(),
                    config.onFailure() == RedisConfig.FailureMode.OPEN
                            ? "falling back to local buckets" : "refusing requests under its rules",
                    BACKOFF);
        }
    }

    private void markAvailable() {
        if (!available && AVAILABLE.compareAndSet(this, false, true)) {
            LOG.info("Redis rate-limit store at {} answers again", address);
        }
    }

    private static Throwable unwrap(Throwable error) {
        return error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    }

    /** Closes the connection (the client's shutdown does) and the threads; blocks up to a few seconds. */
    @Override
    public void close() {
        closed = true;
        client.shutdown(Duration.ZERO, SHUTDOWN_TIMEOUT);
        resources.shutdown(0, SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).awaitUninterruptibly();
    }
}
