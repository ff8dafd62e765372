package io.streamgate.policy.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.config.RateLimitConfig;
import io.streamgate.config.RedisConfig;
import io.streamgate.testing.ManualClock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class RateLimitersTest {
    private static final RedisConfig REDIS =
            new RedisConfig("redis://127.0.0.1:1", Duration.ofMillis(100), RedisConfig.FailureMode.OPEN, "sg:");

    @Test
    void eachRuleIsFoundByNameAndKind() throws Exception {
        RateLimitConfig requests = Rules.requests("per-ip", 10, Duration.ofSeconds(1), 20);
        RateLimitConfig tokens = Rules.tokens("llm", 1_000, Duration.ofMinutes(1), 1_000);
        RateLimitConfig concurrency = Rules.concurrency("parallel", 2, 0, null);
        try (RateLimiters limiters = RateLimiters.create(List.of(requests, tokens, concurrency), REDIS,
                NanoClock.SYSTEM)) {
            assertSame(requests, limiters.bucket("per-ip").config());
            assertTrue(limiters.bucket("llm").isLocal());
            assertSame(concurrency, limiters.concurrency("parallel").config());
            assertThrows(IllegalArgumentException.class, () -> limiters.bucket("parallel"));
            assertThrows(IllegalArgumentException.class, () -> limiters.concurrency("per-ip"));
            assertThrows(IllegalArgumentException.class, () -> limiters.bucket("missing"));
            assertEquals(0, limiters.bucket("per-ip").acquire("k", 20).get());
            assertTrue(limiters.storeAvailable(), "no Redis rule, so no Redis client and nothing unavailable");
            assertEquals(0, limiters.storeFailures() + limiters.fallbackAcquires() + limiters.closedRefusals());
        }
    }

    @Test
    void invalidRulesAreRefused() {
        Duration second = Duration.ofSeconds(1);
        assertRefused(Rules.requests("a", 10, second, 10), Rules.tokens("a", 10, second, 10));
        assertRefused(Rules.requests("a", 0, second, 10));
        assertRefused(Rules.requests("a", 10, Duration.ZERO, 10));
        assertRefused(Rules.requests("a", 10, second, 0));
        assertRefused(Rules.concurrency("c", 0, 0, null));
        assertRefused(Rules.concurrency("c", 1, 5, null));
        assertRefused(Rules.concurrency("c", 1, -1, null));
        RateLimitConfig redisRule = Rules.bucket("a", RateLimitConfig.Kind.REQUESTS, 10, second, 10,
                RateLimitConfig.Store.REDIS);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RateLimiters.create(List.of(redisRule), null, NanoClock.SYSTEM));
        assertTrue(e.getMessage().contains("redis"), e.getMessage());
    }

    private static void assertRefused(RateLimitConfig... rules) {
        assertThrows(IllegalArgumentException.class, () -> RateLimiters.create(List.of(rules), null,
                NanoClock.SYSTEM));
    }

    @Test
    void localLimitersAnswerAcquireAtOnce() {
        BucketLimiter limiter = RateLimiters.create(List.of(Rules.requests("r", 1, Duration.ofHours(1), 1)), null,
                new ManualClock(0)).bucket("r");
        assertEquals(0, limiter.acquire("k", 1).join());
        assertEquals(-Duration.ofHours(1).toNanos(), limiter.acquire("k", 1).join());
        assertFalse(limiter.acquire("k", 1).isCompletedExceptionally());
    }
}
