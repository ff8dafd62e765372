package io.streamgate.upstream;

import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Requests waiting for room on an upstream whose endpoints are all at max_in_flight, bounded in number. In fair mode
 * this is start-time fair queuing over identities: each waiter gets a virtual finish tag of
 * {@code max(now, its identity's last tag) + 1/weight}, and the smallest tag goes first, so an identity that queued a
 * burst is served in turn with one that queued a single request, in proportion to their weights. A higher priority
 * always goes before a lower one. In FIFO mode the tag is the arrival order. Not thread-safe: the upstream's lock
 * guards it.
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
        final java.util.function.IntConsumer grant;
        double tag;
        long seq;

        Waiter(String identity, int weight, int priority, String hashKey, long tried,
               io.netty.util.concurrent.EventExecutor executor, java.util.function.IntConsumer grant) {
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
            double start = Math.max(virtualTime, lastTag.getOrDefault(w.identity, 0.0));
            w.tag = start + 1.0 / w.weight;
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
        if (w != null && fair) {
            virtualTime = Math.max(virtualTime, w.tag - 1.0 / w.weight);
            if (queue.isEmpty() || lastTag.size() > 4 * capacity + 64) {
                // Tags at or below the virtual time no longer change anyone's start: forget them.
                lastTag.values().removeIf(t -> t <= virtualTime);
            }
        }
        return w;
    }

    boolean remove(Waiter w) {
        return queue.remove(w);
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    int size() {
        return queue.size();
    }
}
