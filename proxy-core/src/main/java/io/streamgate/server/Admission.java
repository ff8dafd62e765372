package io.streamgate.server;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.EventExecutor;
import io.streamgate.config.RateLimitConfig;
import io.streamgate.config.RateLimitConfig.Kind;
import io.streamgate.policy.ResponseHeader;
import io.streamgate.policy.ratelimit.BucketLimiter;
import io.streamgate.policy.ratelimit.BucketMemo;
import io.streamgate.policy.ratelimit.ConcurrencyLimiter;
import io.streamgate.policy.ratelimit.Permit;
import io.streamgate.policy.ratelimit.RateLimitQuota;
import io.streamgate.policy.ratelimit.RateLimitStoreUnavailableException;
import io.streamgate.policy.ratelimit.RateLimiters;
import io.streamgate.policy.ratelimit.Waiter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The rate limits of one exchange, run in the route's order: request buckets and concurrency slots when the headers
 * arrive, LLM token buckets once the body's estimate is known and the response cache could not answer (a hit costs no
 * tokens, so a budget in debt does not refuse it). Every rule must admit; when one refuses, what earlier rules took
 * is given back. Local rules decide at once; Redis rules and queued concurrency slots answer later, and the answer is
 * brought back to the exchange's event loop. Confined to that loop.
 *
 * <p>Token rules are charged the estimate at admission and settled against real usage when the exchange ends.
 */
final class Admission {
    private static final AsciiString RATELIMIT_LIMIT = AsciiString.cached("ratelimit-limit");
    private static final AsciiString RATELIMIT_REMAINING = AsciiString.cached("ratelimit-remaining");
    private static final AsciiString RATELIMIT_RESET = AsciiString.cached("ratelimit-reset");
    static final List<AsciiString> QUOTA_HEADER_NAMES = List.of(RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RESET);

    /** How a refusal reaches the exchange. */
    interface Refusal {
        void refuse(ProxyError error, String message, List<ResponseHeader> headers);
    }

    private final RateLimiters limiters;
    private final List<RateLimitConfig> rules;
    private final String[] keys;
    private final EventExecutor loop;
    private final BucketMemo memo;
    /** Made when a concurrency rule grants a slot. */
    private List<Permit> permits;
    /** Index into rules of each token rule that admitted the estimate; made when one does. */
    private List<Integer> charged;
    private final long[] takenFor;
    /** Per rule: its charge was taken by the local buckets standing in for Redis; made when one is. */
    private boolean[] fellBack;
    private final boolean hasTokenRules;
    private Waiter waiter;
    private RateLimitConfig quotaRule;
    private BucketLimiter quotaLimiter;
    private long quotaRemaining = Long.MAX_VALUE;
    private boolean closed;
    private String rejectedRule;

    Admission(RateLimiters limiters, List<RateLimitConfig> rules, String route, String identity, String clientIp,
              HttpHeaders request, EventExecutor loop, BucketMemo memo) {
        this.limiters = limiters;
        this.memo = memo;
        this.rules = rules;
        this.loop = loop;
        this.keys = new String[rules.size()];
        this.takenFor = new long[rules.size()];
        boolean tokens = false;
        for (int i = 0; i < keys.length; i++) {
            keys[i] = RateLimitKeys.of(rules.get(i), route, identity, clientIp, request);
            tokens |= rules.get(i).kind() == Kind.TOKENS;
        }
        this.hasTokenRules = tokens;
    }

    boolean hasTokenRules() {
        return hasTokenRules;
    }

    /** The rule that refused, for metrics, or null. */
    String rejectedRule() {
        return rejectedRule;
    }

    /** Request buckets and concurrency slots; calls {@code next} (maybe later, on the loop) when all admit. */
    void admitRequest(Runnable next, Refusal refusal) {
        step(0, false, 1, next, refusal);
    }

    /** Token buckets, charged {@code estimate}; calls {@code next} when all admit. */
    void admitTokens(long estimate, Runnable next, Refusal refusal) {
        step(0, true, Math.max(1, estimate), next, refusal);
    }

    /** Walks the rules from {@code i} that belong to this phase. */
    private void step(int i, boolean tokenPhase, long cost, Runnable next, Refusal refusal) {
        for (; i < rules.size(); i++) {
            if (closed) {
                return;
            }
            RateLimitConfig rule = rules.get(i);
            if (tokenPhase != (rule.kind() == Kind.TOKENS)) {
                continue;
            }
            if (rule.kind() == Kind.CONCURRENCY) {
                if (!takeSlot(i, tokenPhase, cost, next, refusal)) {
                    return;
                }
                continue;
            }
            BucketLimiter bucket = limiters.bucket(rule.name());
            // A cost beyond the debt cap is charged only the cap; settlement and give-back must start from that.
            long n = Math.min(cost, bucket.maxCharge());
            if (!bucket.isLocal()) {
                int at = i;
                CompletableFuture<Long> acquired = bucket.acquire(keys[i], n);
                acquired.whenComplete((result, error) -> loop.execute(() -> {
                    boolean local = error == null && bucket.fellBack(acquired);
                    if (closed) {
                        if (error == null && result >= 0) {
                            bucket.adjust(keys[at], -n, local); // the client left while we waited: give it back
                        }
                        return;
                    }
                    if (error != null) {
                        storeUnavailable(rule, error, refusal);
                    } else if (took(at, bucket, n, result, refusal)) {
                        if (local) {
                            if (fellBack == null) {
                                fellBack = new boolean[rules.size()];
                            }
                            fellBack[at] = true;
                        }
                        step(at + 1, tokenPhase, cost, next, refusal);
                    }
                }));
                return;
            }
            if (!took(i, bucket, n, bucket.tryAcquire(keys[i], n, memo), refusal)) {
                return;
            }
        }
        if (!closed) {
            next.run();
        }
    }

    /** Records an acquire's answer; false (after refusing) when it was a refusal. */
    private boolean took(int i, BucketLimiter bucket, long cost, long result, Refusal refusal) {
        RateLimitConfig rule = rules.get(i);
        if (result < 0) {
            giveBack();
            rejectedRule = rule.name();
            long retry = RateLimitQuota.retryAfterSeconds(result);
            List<ResponseHeader> headers = List.of(
                    new ResponseHeader("retry-after", Long.toString(retry)),
                    new ResponseHeader("ratelimit-limit", Long.toString(rule.burst())),
                    new ResponseHeader("ratelimit-remaining", "0"),
                    new ResponseHeader("ratelimit-reset", Long.toString(retry)));
            String what = rule.kind() == Kind.TOKENS ? "token budget" : "request rate";
            refusal.refuse(ProxyError.RATE_LIMITED, what + " limit '" + rule.name() + "' exceeded; retry in " + retry + " s", headers);
            return false;
        }
        takenFor[i] = cost;
        if (rule.kind() == Kind.TOKENS) {
            if (charged == null) {
                charged = new ArrayList<>(1);
            }
            charged.add(i);
        }
        // Report the tightest request rule; token rules only when the route has no request rule.
        boolean better = quotaRule == null || quotaRule.kind() == Kind.TOKENS && rule.kind() == Kind.REQUESTS
                || quotaRule.kind() == rule.kind() && result < quotaRemaining;
        if (better) {
            quotaRule = rule;
            quotaLimiter = bucket;
            quotaRemaining = result;
        }
        return true;
    }

    private boolean takeSlot(int i, boolean tokenPhase, long cost, Runnable next, Refusal refusal) {
        RateLimitConfig rule = rules.get(i);
        ConcurrencyLimiter limiter = limiters.concurrency(rule.name());
        Permit p = limiter.tryAcquire(keys[i]);
        if (p != null) {
            addPermit(p);
            return true;
        }
        if (rule.queue() == 0) {
            refuseConcurrency(rule, refusal);
            return false;
        }
        int at = i;
        waiter = limiter.enqueue(keys[i], loop, granted -> {
            waiter = null;
            if (closed) {
                if (granted != null) {
                    granted.release();
                }
                return;
            }
            if (granted == null) {
                refuseConcurrency(rule, refusal);
            } else {
                addPermit(granted);
                step(at + 1, tokenPhase, cost, next, refusal);
            }
        });
        return false;
    }

    private void refuseConcurrency(RateLimitConfig rule, Refusal refusal) {
        giveBack();
        rejectedRule = rule.name();
        refusal.refuse(ProxyError.TOO_MANY_CONCURRENT, "more than " + rule.concurrent() + " concurrent requests for limit '"
                + rule.name() + "'", List.of(new ResponseHeader("retry-after", "1")));
    }

    private void storeUnavailable(RateLimitConfig rule, Throwable error, Refusal refusal) {
        giveBack();
        rejectedRule = rule.name();
        String why = error instanceof RateLimitStoreUnavailableException || error.getCause() instanceof RateLimitStoreUnavailableException
                ? "the shared rate-limit store is unavailable" : "rate limiting failed: " + error;
        refusal.refuse(ProxyError.RATE_LIMIT_STORE_UNAVAILABLE, why, List.of(new ResponseHeader("retry-after", "1")));
    }

    /** Undoes what this exchange took, after a refusal or when it never reached the backend. */
    private void giveBack() {
        for (int i = 0; i < rules.size(); i++) {
            if (takenFor[i] > 0 && rules.get(i).kind() != Kind.CONCURRENCY) {
                limiters.bucket(rules.get(i).name()).adjust(keys[i], -takenFor[i], fellBack(i));
            }
            takenFor[i] = 0;
        }
        charged = null;
        releasePermits();
    }

    /** RateLimit-* headers for the response, from the tightest rule that admitted this request; empty if none. */
    void addQuotaHeaders(HttpHeaders h) {
        if (quotaRule == null) {
            return;
        }
        // Straight into the response, with constant names: these go out on every response of a limited route.
        RateLimitQuota q = RateLimitQuota.admitted(quotaRule, quotaRemaining);
        h.set(RATELIMIT_LIMIT, quotaLimiter.burstText());
        h.set(RATELIMIT_REMAINING, DecimalText.of(q.remaining()));
        h.set(RATELIMIT_RESET, DecimalText.of(q.resetSeconds()));
    }

    /**
     * Ends the exchange's hold: slots are freed, a queued wait is withdrawn, and token rules are settled to
     * {@code actualTokens} (what the backend reported or, failing that, what was relayed). Idempotent.
     */
    void close(long actualTokens) {
        if (closed) {
            return;
        }
        closed = true;
        if (waiter != null) {
            waiter.cancel();
            waiter = null;
        }
        if (charged != null) {
            for (int i : charged) {
                long delta = actualTokens - takenFor[i];
                if (delta != 0) {
                    limiters.bucket(rules.get(i).name()).adjust(keys[i], delta, fellBack(i));
                }
            }
        }
        releasePermits();
    }

    /** Whether rule {@code i}'s charge was taken by local buckets standing in for Redis. */
    private boolean fellBack(int i) {
        return fellBack != null && fellBack[i];
    }

    private void addPermit(Permit p) {
        if (permits == null) {
            permits = new ArrayList<>(1);
        }
        permits.add(p);
    }

    private void releasePermits() {
        if (permits != null) {
            for (Permit p : permits) {
                p.release();
            }
            permits = null;
        }
    }
}
