package io.streamgate.upstream;

import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.EventExecutor;
import io.streamgate.config.UpstreamConfig;
import io.streamgate.config.UpstreamConfig.Balance;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;
import java.util.function.LongConsumer;

/**
 * A configured upstream at run time: its settings, the requests in flight on each endpoint, each endpoint's health,
 * the wait queue, the retry budget, and the choice of an endpoint for the next request. Connection pools belong to
 * this object (see {@link UpstreamPools}), so they live as long as the snapshots that share it.
 *
 * <p>Without {@code max_in_flight} choosing is lock-free: exchanges on every event loop choose concurrently and
 * in-flight counts are atomics. With it, choosing, finishing and the queue share one lock, so that a freed slot goes
 * to the longest (fairest) waiter rather than to whichever request arrives next.
 *
 * <p>A reload that changes the upstream makes a new object, while requests of the old snapshot still run on the old
 * one. An endpoint that stays (same address) keeps its in-flight counter: both objects count into the same atomic, so
 * max_in_flight and least_outstanding see the requests of both. Each object has its own lock and queue, so a slot is
 * taken only by a compare-and-set below the limit, and a slot freed on one object wakes the waiters of every object
 * of the lineage (the objects a chain of reloads made, one from the other) that has some.
 */
public final class Upstream {
    /** {@link #choose}: no endpoint may be used now (all unhealthy, ejected, open, or already tried). */
    public static final int NONE_AVAILABLE = -1;
    /** {@link #choose}: endpoints are available but all at max_in_flight; wait in the queue. */
    public static final int ALL_BUSY = -2;

    private final UpstreamConfig config;
    private final int[] weights;
    /** Requests in flight per endpoint; an endpoint's counter is shared with the snapshots before and after a reload. */
    private final AtomicInteger[] outstanding;
    private final AtomicInteger cursor = new AtomicInteger();
    /** Endpoint indexes in smooth weighted order, one full cycle: round_robin's turns, least_outstanding's ties. */
    private final int[] schedule;
    /** CONSISTENT_HASH: the ring, or null. */
    private final HashRing ring;
    private final EndpointHealth[] health;
    private final int maxInFlight;
    private final WaitQueue queue;
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicInteger retrying = new AtomicInteger();
    private final SslContext ssl;
    private final ModelCatalog models;
    /** When a look at the queue is scheduled (System.nanoTime), 0 when none is; under the lock. */
    private long recheckAt;
    /** Set when a reload replaced this upstream; exchanges of the old snapshot may still lease from it. */
    private volatile boolean retired;
    /** The queue's size, for another snapshot's object to look at without this lock. */
    private volatile int waiting;
    /**
     * The objects of this upstream's lineage (each reload that changed it made the next one from the last) that have
     * requests waiting, shared by the whole lineage. A slot freed on any object may be the one those waiters need,
     * however many reloads ago they queued: a request queued on the snapshot before last would otherwise sleep through
     * free slots until its queue timeout. Only objects with waiters are in it, so a chain of reloads keeps nothing
     * alive once its queues are empty.
     */
    private final Set<Upstream> waitingKin;

    public Upstream(UpstreamConfig config) {
        this(config, null);
    }

    /**
     * @param previous the upstream of the same name this one replaces, or null: endpoints that stay keep their
     *                 in-flight counts, their health (with unchanged health settings) and discovered models
     */
    public Upstream(UpstreamConfig config, Upstream previous) {
        this.config = config;
        List<UpstreamConfig.Endpoint> endpoints = config.endpoints();
        this.weights = endpoints.stream().mapToInt(UpstreamConfig.Endpoint::weight).toArray();
        Map<String, AtomicInteger> inFlight = new HashMap<>();
        if (previous != null) {
            for (int i = 0; i < previous.outstanding.length; i++) {
                inFlight.put(previous.config.endpoints().get(i).toString(), previous.outstanding[i]);
            }
        }
        this.outstanding = new AtomicInteger[weights.length];
        for (int i = 0; i < outstanding.length; i++) {
            AtomicInteger kept = inFlight.get(endpoints.get(i).toString());
            outstanding[i] = kept != null ? kept : new AtomicInteger();
        }
        this.schedule = SmoothWeightedOrder.of(weights);
        this.ring = config.balance().strategy() == Balance.Strategy.CONSISTENT_HASH
                ? new HashRing(endpoints.stream().map(Object::toString).toList(), weights) : null;
        Map<String, EndpointHealth> kept = new HashMap<>();
        if (previous != null) {
            for (int i = 0; i < previous.health.length; i++) {
                if (previous.health[i].config().equals(config.health())) {
                    kept.put(previous.config.endpoints().get(i).toString(), previous.health[i]);
                }
            }
        }
        this.health = new EndpointHealth[weights.length];
        for (int i = 0; i < health.length; i++) {
            EndpointHealth h = kept.get(endpoints.get(i).toString());
            health[i] = h != null ? h : new EndpointHealth(config.health());
        }
        this.waitingKin = previous != null ? previous.waitingKin : ConcurrentHashMap.newKeySet();
        this.maxInFlight = config.admission().maxInFlight();
        this.queue = maxInFlight > 0 ? new WaitQueue(config.admission().queueSize(), config.admission().fair()) : null;
        this.ssl = endpoints.stream().anyMatch(UpstreamConfig.Endpoint::tls) ? BackendTlsContext.of(config.tls()) : null;
        this.models = new ModelCatalog(config.models(), previous == null || !previous.config.endpoints().equals(endpoints)
                ? null : previous.models);
    }

    public UpstreamConfig config() {
        return config;
    }

    /** The client TLS context for {@code https://} endpoints, or null when there are none. */
    public SslContext ssl() {
        return ssl;
    }

    public ModelCatalog models() {
        return models;
    }

    /** Requests in flight on endpoint {@code endpoint} from this gateway. */
    public int inFlight(int endpoint) {
        return outstanding[endpoint].get();
    }

    public EndpointHealth health(int endpoint) {
        return health[endpoint];
    }

    boolean retired() {
        return retired;
    }

    void retire() {
        retired = true;
    }

    /**
     * Choice encoding, for {@link #choose} and the queue's grant: the endpoint's index (non-negative) in the low 32
     * bits, the attempt's breaker trial (see {@link EndpointHealth#admit}) in the high ones; or a negative answer.
     */
    public static int endpoint(long choice) {
        return (int) choice;
    }

    /** The breaker trial of a choice, to pass back to {@link #attemptEnded}. */
    public static int trial(long choice) {
        return (int) (choice >>> 32);
    }

    private static long choice(int endpoint, int trial) {
        return (long) trial << 32 | endpoint;
    }

    /**
     * Picks the endpoint for an attempt and counts it as in flight until {@link #finished(int)}. Returns a choice (its
     * index in {@code config().endpoints()} is {@link #endpoint(long)}), or {@link #NONE_AVAILABLE} or {@link #ALL_BUSY}.
     *
     * @param hashKey the request's key for CONSISTENT_HASH (null when it has none: then the least busy endpoint)
     * @param tried   endpoints this request already tried, as a bit mask, to be avoided
     */
    public long choose(String hashKey, long tried) {
        if (queue == null) {
            return pick(hashKey, tried);
        }
        synchronized (this) {
            drain();
            if (queue.isEmpty()) {
                return pick(hashKey, tried);
            }
            // Waiters go first; but with no endpoint available there is nothing to wait for: refused at once, as
            // without waiters, rather than after the whole queue timeout.
            return anyAvailable() ? ALL_BUSY : NONE_AVAILABLE;
        }
    }

    /** The attempt on endpoint {@code index} ended; its slot goes to a waiter if one can use it. */
    public void finished(int index) {
        if (queue == null) {
            outstanding[index].decrementAndGet();
        } else {
            synchronized (this) {
                outstanding[index].decrementAndGet();
                drain();
            }
        }
        wakeKin();
    }

    /**
     * Counters and endpoint health are shared with the objects of earlier or later snapshots, whose waiters may be let
     * in by what just happened here (a slot freed, an endpoint back). Holds no lock; takes each one's in turn.
     */
    private void wakeKin() {
        if (!waitingKin.isEmpty()) {
            for (Upstream other : waitingKin) {
                if (other != this && other.waiting > 0) {
                    synchronized (other) {
                        other.drain();
                    }
                }
            }
        }
    }

    /** A ticket in the wait queue, for {@link #cancel}. */
    public static final class Ticket {
        private final WaitQueue.Waiter waiter;

        private Ticket(WaitQueue.Waiter waiter) {
            this.waiter = waiter;
        }
    }

    /**
     * Queues a request until an endpoint has room: {@code grant} then runs on {@code executor} with the endpoint,
     * already counted in flight. Returns null when the queue is full.
     *
     * @param tried endpoints the request already tried (a retry), as a bit mask: it is given another one while any
     *              other is available
     */
    public Ticket enqueue(String identity, int weight, int priority, String hashKey, long tried, EventExecutor executor,
                          LongConsumer grant) {
        synchronized (this) {
            WaitQueue.Waiter w = new WaitQueue.Waiter(identity, weight, priority, hashKey, tried, executor, grant);
            if (!queue.offer(w)) {
                return null;
            }
            // Seen as waiting before it looks for room: a slot freed meanwhile on another object then drains this one.
            publishWaiting();
            drain();
            return new Ticket(w);
        }
    }

    /** Takes a waiter out (timeout, client gone). False when it was already granted an endpoint. */
    public boolean cancel(Ticket t) {
        synchronized (this) {
            boolean removed = queue.remove(t.waiter);
            publishWaiting();
            return removed;
        }
    }

    public int queued() {
        if (queue == null) {
            return 0;
        }
        synchronized (this) {
            return queue.size();
        }
    }

    /**
     * Hands free slots to waiters, best first, while the best one (or, past a retry that waits for an endpoint it has
     * not tried, the next one) can be placed. Holds the lock.
     */
    private void drain() {
        drainQueue();
        publishWaiting();
    }

    /** Publishes the queue's size, and joins or leaves the lineage's objects with waiters. Holds the lock. */
    private void publishWaiting() {
        boolean had = waiting > 0;
        waiting = queue.size();
        if (waiting > 0 && !had) {
            waitingKin.add(this);
        } else if (waiting == 0 && had) {
            waitingKin.remove(this);
        }
    }

    private void drainQueue() {
        WaitQueue.Waiter w;
        while ((w = queue.peek()) != null) {
            long chosen = place(w);
            if (chosen >= 0) {
                queue.poll();
            } else if (w.tried != 0 && roomAmong(w.tried)) {
                // The best waiter is a retry holding out for an endpoint it has not tried, while one it tried has room:
                // that room goes to the next waiter that can use it instead of idling until the retry is placed.
                WaitQueue.Waiter head = w;
                long[] placed = {-1};
                w = queue.pollFirst(x -> x != head && (placed[0] = place(x)) >= 0);
                if (w == null) {
                    recheckLater(head.executor);
                    return;
                }
                chosen = placed[0];
            } else {
                recheckLater(w.executor);
                return;
            }
            WaitQueue.Waiter granted = w;
            long endpoint = chosen;
            granted.executor.execute(() -> granted.grant.accept(endpoint));
        }
    }

    /** An endpoint for {@code w}, counted in flight, or a negative {@link #choose} answer. Holds the lock. */
    private long place(WaitQueue.Waiter w) {
        long untried = pick(w.hashKey, w.tried);
        // When every endpoint it did not try went down meanwhile, one it tried, rather than the queue stalled on it.
        return untried == NONE_AVAILABLE && w.tried != 0 ? pick(w.hashKey, 0) : untried;
    }

    /** Whether an available endpoint in {@code mask} is below max_in_flight. */
    private boolean roomAmong(long mask) {
        long now = System.nanoTime();
        for (int i = 0; i < health.length; i++) {
            if (tried(mask, i) && outstanding[i].get() < maxInFlight && health[i].available(now)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The head waiter cannot be placed now. A finishing request drains the queue, but an endpoint that is out comes
     * back with none finishing (its ejection ends, its breaker half-opens): look again when the first of them may be
     * back, so that waiters do not sit beside an idle endpoint until their queue timeout. Holds the lock.
     */
    private void recheckLater(EventExecutor executor) {
        long now = System.nanoTime();
        long wait = Long.MAX_VALUE;
        for (EndpointHealth h : health) {
            long back = h.available(now) ? 0 : h.nanosUntilBack(now);
            if (back > 0) {
                wait = Math.min(wait, back); // 0: in, or a half-open breaker whose trials end with a finished()
            }
        }
        if (wait == Long.MAX_VALUE) {
            return;
        }
        long at = now + wait;
        if (recheckAt != 0 && recheckAt - at <= 0) {
            return; // a look no later than this one is already scheduled
        }
        recheckAt = at;
        executor.schedule(() -> {
            synchronized (this) {
                if (recheckAt == at) {
                    recheckAt = 0;
                }
                drain();
            }
        }, wait, TimeUnit.NANOSECONDS);
    }

    /**
     * An endpoint's active check put it back: waiters may have it at once, those queued on an earlier snapshot's object
     * too (the check runs for the current object only, the endpoint's health is shared).
     */
    void endpointReturned() {
        if (queue != null) {
            synchronized (this) {
                drain();
            }
        }
        wakeKin();
    }

    /**
     * What one attempt showed about endpoint {@code index}: true success, false failure, null nothing (client left).
     *
     * @param trial the attempt's breaker trial, {@link #trial(long)} of its choice
     */
    public void attemptEnded(int index, int trial, Boolean success) {
        if (success == null) {
            health[index].abandoned(trial);
            return;
        }
        long now = System.nanoTime();
        health[index].record(success, now, !success && availableOutside(bit(index), now), trial);
    }

    /** A request of this upstream began; it is counted for the retry budget until {@link #requestEnded}. */
    public void requestStarted() {
        active.incrementAndGet();
    }

    public void requestEnded(boolean retried) {
        active.decrementAndGet();
        if (retried) {
            retrying.decrementAndGet();
        }
    }

    /**
     * Whether one more request may be retried: retries in flight stay under the budget's share of requests in flight
     * (or min_retries). Counts the retry until its request ends ({@link #requestEnded} with {@code retried}).
     */
    public boolean tryRetry() {
        UpstreamConfig.Retries r = config.retries();
        while (true) {
            int now = retrying.get();
            if (now >= Math.max(r.minRetries(), r.budget() * active.get())) {
                return false;
            }
            if (retrying.compareAndSet(now, now + 1)) {
                return true;
            }
        }
    }

    /** Nanoseconds until some endpoint may be available again (for Retry-After); 0 when unknown. */
    public long nanosUntilAvailable() {
        long now = System.nanoTime();
        long best = Long.MAX_VALUE;
        for (EndpointHealth h : health) {
            best = Math.min(best, h.nanosUntilBack(now));
        }
        return best == Long.MAX_VALUE ? 0 : best;
    }

    /** Whether an endpoint outside {@code tried} is available now (with room or not). */
    public boolean hasUntried(long tried) {
        return availableOutside(tried, System.nanoTime());
    }

    /** Whether any endpoint is available now. */
    public boolean anyAvailable() {
        return hasUntried(0);
    }

    private boolean availableOutside(long excluded, long now) {
        for (int i = 0; i < health.length; i++) {
            if (!tried(excluded, i) && health[i].available(now)) {
                return true;
            }
        }
        return false;
    }

    private long pick(String hashKey, long tried) {
        long now = System.nanoTime();
        long excluded = tried;
        for (int round = 0; round <= weights.length; round++) {
            int c = strategy(hashKey, excluded, now);
            if (c < 0) {
                return anyRoomless(excluded, now) ? ALL_BUSY : NONE_AVAILABLE;
            }
            double share = health[c].slowStartShare(now);
            if (share < 1 && ThreadLocalRandom.current().nextDouble() >= share) {
                // A returning endpoint takes only part of its share: send this one elsewhere if there is an elsewhere.
                int other = strategy(hashKey, excluded | bit(c), now);
                if (other >= 0) {
                    c = other;
                }
            }
            if (!count(c)) {
                excluded |= bit(c); // the snapshot before or after a reload took its last slot meanwhile
                continue;
            }
            int trial = health[c].admit(now);
            if (trial != CircuitBreaker.REFUSED) {
                return choice(c, trial);
            }
            outstanding[c].decrementAndGet();
            excluded |= bit(c); // its half-open trial slots went to other requests meanwhile
        }
        return NONE_AVAILABLE;
    }

    /**
     * Counts one more request in flight on {@code c}, below max_in_flight if there is one. Under this object's lock
     * the count cannot move between eligible() and here, except by another snapshot's object sharing the counter.
     */
    private boolean count(int c) {
        AtomicInteger n = outstanding[c];
        if (maxInFlight == 0) {
            n.incrementAndGet();
            return true;
        }
        while (true) {
            int now = n.get();
            if (now >= maxInFlight) {
                return false;
            }
            if (n.compareAndSet(now, now + 1)) {
                return true;
            }
        }
    }

    private static long bit(int i) {
        return i < 64 ? 1L << i : 0;
    }

    private static boolean tried(long mask, int i) {
        return i < 64 && (mask >>> i & 1) != 0;
    }

    private boolean eligible(int i, long excluded, long now) {
        return !tried(excluded, i) && (maxInFlight == 0 || outstanding[i].get() < maxInFlight) && health[i].available(now);
    }

    /** Whether some untried, available endpoint is only kept out by max_in_flight. */
    private boolean anyRoomless(long excluded, long now) {
        return maxInFlight > 0 && availableOutside(excluded, now);
    }

    private int strategy(String hashKey, long excluded, long now) {
        if (weights.length == 1) {
            return eligible(0, excluded, now) ? 0 : -1;
        }
        return switch (config.balance().strategy()) {
            case ROUND_ROBIN -> roundRobin(excluded, now);
            case LEAST_OUTSTANDING -> leastOutstanding(excluded, now);
            case CONSISTENT_HASH -> hashKey == null ? leastOutstanding(excluded, now) : boundedHash(hashKey, excluded, now);
            case LEAST_LOADED -> powerOfTwo(excluded, now);
        };
    }

    private int roundRobin(long excluded, long now) {
        return nextInTurn(i -> eligible(i, excluded, now));
    }

    /**
     * Fewest in flight per unit of weight; ties (idle endpoints, most of all) in smooth weighted order, as nginx's
     * least_conn, so weights still count when requests rarely overlap.
     */
    private int leastOutstanding(long excluded, long now) {
        int best = -1;
        int ties = 0;
        for (int i = 0; i < weights.length; i++) {
            if (!eligible(i, excluded, now)) {
                continue;
            }
            int order = best < 0 ? -1 : compareLoad(i, best);
            if (order < 0) {
                best = i;
                ties = 1;
            } else if (order == 0) {
                ties++;
            }
        }
        if (ties <= 1) {
            return best;
        }
        int least = best;
        int c = nextInTurn(i -> eligible(i, excluded, now) && compareLoad(i, least) == 0);
        return c >= 0 ? c : best; // counts moved meanwhile
    }

    /** outstanding[i] / weights[i] against outstanding[j] / weights[j], without division. */
    private int compareLoad(int i, int j) {
        return Long.compare((long) outstanding[i].get() * weights[j], (long) outstanding[j].get() * weights[i]);
    }

    /**
     * The next endpoint in the smooth weighted cycle that {@code candidate} accepts, or -1. The turns of endpoints
     * passed over are used up, not handed to the candidate after them: so the candidates share the cycle in
     * proportion to their weights, whichever endpoints are out (with a, b, c of weight 1 and a down, b and c take
     * turns rather than b taking a's turn as well as its own).
     */
    private int nextInTurn(IntPredicate candidate) {
        int start = cursor.getAndIncrement();
        for (int k = 0; k < schedule.length; k++) {
            int i = schedule[Math.floorMod(start + k, schedule.length)];
            if (candidate.test(i)) {
                if (k > 0) {
                    cursor.getAndAdd(k);
                }
                return i;
            }
        }
        return -1;
    }

    /**
     * The key's endpoint on the ring, unless it already carries more than its share: load_factor times the average
     * in flight (counting this request), scaled by weight; then the next endpoint clockwise that has room. The
     * average is over the available endpoints: one that is out takes no share, and counting its weight lowered the
     * bound below an even load, moving sessions off their replica because an unrelated one was down.
     */
    private int boundedHash(String key, long excluded, long now) {
        long total = 1;
        int weightSum = 0;
        for (int i = 0; i < weights.length; i++) {
            if (health[i].available(now)) {
                total += outstanding[i].get();
                weightSum += weights[i];
            }
        }
        if (weightSum == 0) {
            return -1; // nothing is available
        }
        double perWeight = config.balance().loadFactor() * total / weightSum;
        int c = ring.first(key, i -> eligible(i, excluded, now) && outstanding[i].get() < Math.ceil(perWeight * weights[i]));
        if (eligible(c, excluded, now)) {
            return c;
        }
        c = ring.first(key, i -> eligible(i, excluded, now));
        return eligible(c, excluded, now) ? c : -1;
    }

    /**
     * Power of two choices on scraped load: two distinct eligible endpoints at random, the less loaded wins. Figures
     * are seconds old, so always taking the single least loaded one would pile every new request onto it.
     */
    private int powerOfTwo(long excluded, long now) {
        int n = weights.length;
        int eligibleCount = 0;
        for (int i = 0; i < n; i++) {
            if (eligible(i, excluded, now)) {
                eligibleCount++;
            }
        }
        if (eligibleCount == 0) {
            return -1;
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int a = nthEligible(random.nextInt(eligibleCount), excluded, now);
        if (eligibleCount == 1) {
            return a;
        }
        int pickB = random.nextInt(eligibleCount - 1);
        int b = nthEligible(pickB >= indexAmongEligible(a, excluded, now) ? pickB + 1 : pickB, excluded, now);
        double sa = loadScore(a);
        double sb = loadScore(b);
        if (sa != sb) {
            return sa < sb ? a : b;
        }
        return outstanding[a].get() <= outstanding[b].get() ? a : b;
    }

    private double loadScore(int i) {
        VllmLoad load = health[i].load();
        int inFlight = outstanding[i].get();
        return load == null ? inFlight : load.score(inFlight);
    }

    private int nthEligible(int nth, long excluded, long now) {
        for (int i = 0, seen = 0; i < weights.length; i++) {
            if (eligible(i, excluded, now) && seen++ == nth) {
                return i;
            }
        }
        return -1;
    }

    private int indexAmongEligible(int endpoint, long excluded, long now) {
        int seen = 0;
        for (int i = 0; i < endpoint; i++) {
            if (eligible(i, excluded, now)) {
                seen++;
            }
        }
        return seen;
    }
}
