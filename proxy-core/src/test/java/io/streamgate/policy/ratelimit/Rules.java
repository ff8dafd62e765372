package io.streamgate.policy.ratelimit;

import io.streamgate.config.RateLimitConfig;
import io.streamgate.config.RateLimitConfig.KeySource;
import io.streamgate.config.RateLimitConfig.Kind;
import io.streamgate.config.RateLimitConfig.Store;
import java.time.Duration;

/** Rule records for tests. */
final class Rules {
    private Rules() {
    }

    static RateLimitConfig requests(String name, long amount, Duration per, long burst) {
        return bucket(name, Kind.REQUESTS, amount, per, burst, Store.LOCAL);
    }

    static RateLimitConfig tokens(String name, long amount, Duration per, long burst) {
        return bucket(name, Kind.TOKENS, amount, per, burst, Store.LOCAL);
    }

    static RateLimitConfig bucket(String name, Kind kind, long amount, Duration per, long burst, Store store) {
        return new RateLimitConfig(name, KeySource.CLIENT_IP, null, kind, amount, per, burst, 0, 0, null, store);
    }

    static RateLimitConfig concurrency(String name, int concurrent, int queue, Duration queueTimeout) {
        return new RateLimitConfig(name, KeySource.API_KEY, null, Kind.CONCURRENCY, 0, null, 0, concurrent, queue,
                queueTimeout, null);
    }
}
