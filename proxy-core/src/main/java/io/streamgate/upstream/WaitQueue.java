package io.streamgate.upstream;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.function.Predicate;

/**
 * Requests waiting for room on an upstream whose endpoints are all at max_in_flight, bounded in number. In fair mode
 * this is start-time fair queuing over identities: each waiter gets a virtual finish tag of
 * {@code max(now, its identity's last tag) + 1/weight}, and the smallest tag goes first, so an identity that queued a
 * burst is served in turn with one that queued a single request, in proportion to their weights. A higher priority
 * always goes before a lower one. A waiter that leaves unserved gives its turn back. In FIFO mode the tag is the
 * arrival order. Not thread-safe: the upstream's lock guards it.
 */
final class WaitQueue {
    /** One waiting request; {@code grant} runs on the waiter's own event loop with the endpoint it got. */
    static final class Waiter {
        final String identity;
        final int weight;
        final int priority;
        final String hashKey;
        /** Endpoints this request already tried (a retry waits too), as a bit mask: not granted again if avoidable. */
        final long tried;
        final io.netty.util.concurrent.EventExecutor executor;
        /** Given {@link Upstream}'s choice: the endpoint and its breaker trial, see {@link Upstream#endpoint(long)}. */
        final java.util.function.LongConsumer grant;
        double tag;
        long seq;
        /** Fair mode: the virtual time when it arrived, and its identity's last finish tag then (see offer). */
        double arrivedAt;
        double previous;

        Waiter(String identity, int weight, int priority, String hashKey, long tried,
               io.netty.util.concurrent.EventExecutor executor, java.util.function.LongConsumer grant) {
            this.identity = identity;
            this.weight = weight;
            this.priority = priority;
            this.hashKey = hashKey;
            this.tried = tried;
            this.executor = executor;
            this.grant = grant;
        }
    }

    private final int capacity;
    private final boolean fair;
    private final PriorityQueue<Waiter> queue = new PriorityQueue<>((a, b) -> {
        if (a.priority != b.priority) {
            return Integer.compare(b.priority, a.priority);
        }
        int byTag = Double.compare(a.tag, b.tag);
        return byTag != 0 ? byTag : Long.compare(a.seq, b.seq);
    });
    /** Last finish tag per identity with requests waiting or recently served. */
    private final Map<String, Double> lastTag = new HashMap<>();
    private double virtualTime;
    private long seq;

    WaitQueue(int capacity, boolean fair) {
        this.capacity = capacity;
        this.fair = fair;
    }

    /** False when the queue is full. */
    boolean offer(Waiter w) {
        if (queue.size() >= capacity) {
            return false;
        }
        w.seq = seq++;
        if (fair) {
            w.arrivedAt = virtualTime;
            w.previous = lastTag.getOrDefault(w.identity, 0.0);
            w.tag = Math.max(w.arrivedAt, w.previous) + 1.0 / w.weight;
            lastTag.put(w.identity, w.tag);
        } else {
            w.tag = w.seq;
        }
        queue.add(w);
        return true;
    }

    Waiter peek() {
        return queue.peek();
    }

    Waiter poll() {
        Waiter w = queue.poll();
        served(w);
        return w;
    }

    /**
     * Removes and returns the best waiter {@code placeable} accepts, asking in serving order; null when it accepts
     * none. The predicate may place the waiter as a side effect: it is asked once per waiter, and no more after a yes.
     */
    Waiter pollFirst(Predicate<Waiter> placeable) {
        List<Waiter> passed = new ArrayList<>();
        Waiter found = null;
        Waiter w;
        while ((w = queue.poll()) != null) {
            if (placeable.test(w)) {
                found = w;
                break;
            }
            passed.add(w);
        }
        queue.addAll(passed);
        served(found);
        return found;
    }

    /** Fair mode: virtual time moves to the start of {@code w}, which leaves the queue to be served (null: none). */
    private void served(Waiter w) {
        if (w != null && fair) {
            virtualTime = Math.max(virtualTime, w.tag - 1.0 / w.weight);
            if (queue.isEmpty() || lastTag.size() > 4 * capacity + 64) {
                // Tags at or below the virtual time no longer change anyone's start: forget them.
                lastTag.values().removeIf(t -> t <= virtualTime);
            }
        }
    }

    boolean remove(Waiter w) {
        if (!queue.remove(w)) {
            return false;
        }
        if (fair) {
            giveTurnBack(w);
        }
        return true;
    }

    /**
     * A waiter that left unserved (timed out, client gone) must not keep pushing its identity back: its identity's
     * later waiters are tagged again as if it had never queued, and so is the identity's next arrival. Otherwise a
     * key whose requests timed out would queue behind every other key for as many turns as it lost.
     */
    private void giveTurnBack(Waiter w) {
        List<Waiter> later = new ArrayList<>();
        for (Waiter x : queue) {
            if (Objects.equals(x.identity, w.identity) && x.seq > w.seq) {
                later.add(x);
            }
        }
        later.sort(Comparator.comparingLong(x -> x.seq));
        double latest = later.isEmpty() ? w.tag : later.get(later.size() - 1).tag;
        double previous = w.previous;
        for (Waiter x : later) {
            queue.remove(x); // its tag changes: out and back in, to keep the heap ordered
            x.previous = previous;
            x.tag = Math.max(x.arrivedAt, previous) + 1.0 / x.weight;
            previous = x.tag;
            queue.add(x);
        }
        Double last = lastTag.get(w.identity);
        if (last != null && last == latest) {
            lastTag.put(w.identity, previous);
        }
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    int size() {
        return queue.size();
    }
}
