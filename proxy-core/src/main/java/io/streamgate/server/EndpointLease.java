package io.streamgate.server;

import io.netty.util.concurrent.EventExecutor;
import io.streamgate.config.UpstreamConfig.Endpoint;
import io.streamgate.upstream.Upstream;
import java.util.function.LongConsumer;

/**
 * One request's use of its upstream: the endpoint it holds (counted in flight until released), the endpoints it
 * tried, its place in the wait queue, whether it spent the retry budget, and each attempt's outcome reported once.
 * Confined to the exchange's event loop.
 */
final class EndpointLease {
    private Upstream upstream;
    private long tried;
    private int endpointsTried;
    private int index;
    /** The held attempt's breaker trial, see {@link Upstream#trial(long)}. */
    private int trial;
    private Endpoint endpoint;
    private boolean holding;
    private boolean reported;
    private boolean counted;
    private boolean retried;
    private Upstream.Ticket ticket;

    EndpointLease(Upstream upstream) {
        this.upstream = upstream;
    }

    Upstream upstream() {
        return upstream;
    }

    /** Model routing chose another upstream; only before the first choice. */
    void reroute(Upstream to) {
        assert !counted;
        upstream = to;
    }

    /**
     * Chooses an untried endpoint and holds it; returns its index, or {@link Upstream#ALL_BUSY} or
     * {@link Upstream#NONE_AVAILABLE}.
     */
    int choose(String hashKey) {
        if (!counted) {
            counted = true;
            upstream.requestStarted();
        }
        long chosen = upstream.choose(hashKey, tried);
        if (chosen < 0) {
            return (int) chosen;
        }
        hold(chosen);
        return index;
    }

    /** Holds the endpoint of {@code choice}, already counted in flight by the upstream (chosen, or granted by the queue). */
    private void hold(long choice) {
        int i = Upstream.endpoint(choice);
        index = i;
        trial = Upstream.trial(choice);
        endpoint = upstream.config().endpoints().get(i);
        holding = true;
        reported = false;
        endpointsTried++;
        tried |= i < 64 ? 1L << i : 0;
    }

    boolean holding() {
        return holding;
    }

    int index() {
        return index;
    }

    /** The endpoint held now, or last held; null before any. */
    Endpoint endpoint() {
        return endpoint;
    }

    /** Whether this is not the first endpoint the request was sent to. */
    boolean resent() {
        return endpointsTried > 1;
    }

    /** Waits for an endpoint; {@code grant} runs on {@code executor}. False when the queue is full. */
    boolean enqueue(String identity, int weight, int priority, String hashKey, EventExecutor executor, LongConsumer grant) {
        ticket = upstream.enqueue(identity, weight, priority, hashKey, tried, executor, grant);
        return ticket != null;
    }

    boolean queued() {
        return ticket != null;
    }

    /** Leaves the queue; false when an endpoint was granted meanwhile (the grant is on its way). */
    boolean leaveQueue() {
        if (ticket != null && upstream.cancel(ticket)) {
            ticket = null;
            return true;
        }
        return false;
    }

    /**
     * The queue's grant arrived: the request now holds the endpoint of {@code choice}, unless it ended meanwhile (then
     * it is given back).
     */
    boolean granted(long choice, boolean ended) {
        ticket = null;
        if (ended) {
            upstream.attemptEnded(Upstream.endpoint(choice), Upstream.trial(choice), null);
            upstream.finished(Upstream.endpoint(choice));
            return false;
        }
        hold(choice);
        return true;
    }

    /** How the attempt on the held endpoint went, once per attempt: true, false, or null when it told nothing. */
    void report(Boolean success) {
        if (holding && !reported) {
            reported = true;
            upstream.attemptEnded(index, trial, success);
        }
    }

    /** Gives the held endpoint's in-flight slot back. */
    void release() {
        if (holding) {
            report(null);
            holding = false;
            upstream.finished(index);
        }
    }

    /** Whether attempts are left and an untried endpoint is available. */
    boolean mayRetry() {
        return endpointsTried < upstream.config().retries().attempts() && upstream.hasUntried(tried);
    }

    /** Takes this request's share of the retry budget (once per request); false when the budget is spent. */
    boolean takeRetryBudget() {
        if (!retried) {
            if (!upstream.tryRetry()) {
                return false;
            }
            retried = true;
        }
        return true;
    }

    /** The request is over: every slot, ticket and count it holds goes back. */
    void end() {
        release();
        leaveQueue();
        if (counted) {
            counted = false;
            upstream.requestEnded(retried);
        }
    }
}
