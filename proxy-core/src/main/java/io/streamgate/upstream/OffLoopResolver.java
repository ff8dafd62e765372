package io.streamgate.upstream;

import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.InetNameResolver;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Resolves backend host names away from the event loops. Netty's default resolver calls {@code InetAddress} on the
 * loop that connects, so one slow or unanswered DNS query (seconds, with the system resolver's retries) would stall
 * every stream and request on that loop; here the lookup runs on a few daemon threads and the connect continues on
 * its loop when the answer comes. The answers are the JVM's as before: hosts file, system resolver, the JVM's
 * positive and negative caches. Literal addresses, the usual case, are parsed on the loop without a thread hop.
 * A lookup still unanswered after {@link #LOOKUP_TIMEOUT} fails the connect (the thread may stay in the system
 * resolver until its own retries end), so a DNS server that never answers costs a request that long, not more.
 *
 * <p>Connects that need the same name while its lookup runs wait for that lookup instead of queueing their own: the
 * JVM runs one lookup per name at a time anyway, so a burst of connects to a name whose DNS server is silent used to
 * take every lookup thread, each blocked behind the first, and the lookups of every other name waited in the queue.
 * Now a silent name holds one thread.
 */
public final class OffLoopResolver extends AddressResolverGroup<InetSocketAddress> {
    /** What looks a name up (blocking): the JVM's resolver in production, a stand-in in tests. */
    @FunctionalInterface
    public interface Lookup {
        InetAddress[] all(String host) throws UnknownHostException;
    }

    /** As long as nginx's {@code resolver_timeout} default; glibc alone may retry for longer. */
    public static final Duration LOOKUP_TIMEOUT = Duration.ofSeconds(30);

    /** Shared by every bootstrap that connects to backends; its threads end when idle. */
    public static final OffLoopResolver INSTANCE =
            new OffLoopResolver(InetAddress::getAllByName, lookupThreads(), LOOKUP_TIMEOUT);

    private final Lookup lookup;
    private final Executor lookups;
    private final long timeoutNanos;
    /** The lookup running for each name; an entry leaves when its answer (or failure) is in. */
    private final ConcurrentHashMap<String, CompletableFuture<InetAddress[]>> running = new ConcurrentHashMap<>();

    /**
     * @param lookups runs {@code lookup}; never an event loop, and never the calling thread
     * @param timeout how long a lookup may take before the resolution fails
     */
    public OffLoopResolver(Lookup lookup, Executor lookups, Duration timeout) {
        this.lookup = lookup;
        this.lookups = lookups;
        this.timeoutNanos = timeout.toNanos();
    }

    @Override
    protected AddressResolver<InetSocketAddress> newResolver(EventExecutor loop) {
        return new NameResolver(loop).asAddressResolver();
    }

    /**
     * A few threads, enough for lookups of different names to overlap (each name has at most one lookup running, see
     * {@link #answerFor}, and the JVM caches its answer); they exit after a minute without work.
     */
    private static Executor lookupThreads() {
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(4, 4, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "streamgate-dns-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    /** The running lookup of {@code host}, started on a lookup thread if there is none. */
    private CompletableFuture<InetAddress[]> answerFor(String host) {
        CompletableFuture<InetAddress[]> mine = new CompletableFuture<>();
        CompletableFuture<InetAddress[]> running = this.running.putIfAbsent(host, mine);
        if (running != null) {
            return running;
        }
        try {
            lookups.execute(() -> {
                try {
                    mine.complete(lookup.all(host));
                } catch (UnknownHostException | RuntimeException e) {
                    mine.completeExceptionally(e);
                } finally {
                    this.running.remove(host, mine);
                }
            });
        } catch (RejectedExecutionException e) {
            this.running.remove(host, mine);
            mine.completeExceptionally(e);
        }
        return mine;
    }

    private final class NameResolver extends InetNameResolver {
        NameResolver(EventExecutor loop) {
            super(loop);
        }

        /** Waits for the name's lookup; fails the promise on the loop if no answer comes in time. */
        private <T> void lookUp(String host, Promise<T> promise, Function<InetAddress[], T> answer) {
            ScheduledFuture<?> deadline = executor().schedule(() -> promise.tryFailure(new UnknownHostException(
                    host + ": no answer within " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms")), timeoutNanos,
                    TimeUnit.NANOSECONDS);
            promise.addListener(f -> deadline.cancel(false));
            answerFor(host).whenComplete((all, failure) -> {
                if (failure == null) {
                    promise.trySuccess(answer.apply(all));
                } else {
                    promise.tryFailure(failure);
                }
            });
        }

        @Override
        protected void doResolve(String host, Promise<InetAddress> promise) {
            InetAddress literal = literal(host);
            if (literal != null) {
                promise.setSuccess(literal);
                return;
            }
            lookUp(host, promise, all -> all[0]);
        }

        @Override
        protected void doResolveAll(String host, Promise<List<InetAddress>> promise) {
            InetAddress literal = literal(host);
            if (literal != null) {
                promise.setSuccess(List.of(literal));
                return;
            }
            lookUp(host, promise, Arrays::asList);
        }

        /** An IPv4 or IPv6 literal (brackets allowed) as an address, or null for a name. */
        private InetAddress literal(String host) {
            byte[] bytes = NetUtil.createByteArrayFromIpAddressString(host);
            if (bytes == null) {
                return null;
            }
            try {
                return InetAddress.getByAddress(host, bytes);
            } catch (UnknownHostException impossible) { // only for a wrong array length
                return null;
            }
        }
    }
}
