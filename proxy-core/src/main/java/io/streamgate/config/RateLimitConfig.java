package io.streamgate.config;

import java.time.Duration;

/**
 * One named limit from the top-level {@code rate_limits} map; routes list the names that apply to them, and a
 * request must pass every one.
 *
 * <p>Three kinds: REQUESTS and TOKENS are token buckets (rate {@code amount} per {@code per}, holding at most
 * {@code burst}); TOKENS are charged LLM tokens instead of requests. CONCURRENCY admits at most {@code concurrent}
 * requests in flight per key, with up to {@code queue} more waiting at most {@code queueTimeout}.
 *
 * @param header the request header whose value is the key, when {@code key} is HEADER (lower case), else null
 * @param amount tokens added per {@code per} (REQUESTS, TOKENS)
 * @param burst  bucket capacity (REQUESTS, TOKENS)
 * @param store  where the buckets live (REQUESTS, TOKENS)
 */
public record RateLimitConfig(
        String name,
        KeySource key,
        String header,
        Kind kind,
        long amount,
        Duration per,
        long burst,
        int concurrent,
        int queue,
        Duration queueTimeout,
        Store store) {

    /** What a bucket is keyed by. API_KEY falls back to the client IP for anonymous requests. */
    public enum KeySource { CLIENT_IP, API_KEY, ROUTE, HEADER }

    public enum Kind { REQUESTS, TOKENS, CONCURRENCY }

    public enum Store { LOCAL, REDIS }

    /** Tokens added per second. */
    public double ratePerSecond() {
        return amount * 1e9 / per.toNanos();
    }
}
