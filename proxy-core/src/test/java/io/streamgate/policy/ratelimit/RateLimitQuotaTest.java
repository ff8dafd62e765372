package io.streamgate.policy.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.streamgate.config.RateLimitConfig;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class RateLimitQuotaTest {

    @Test
    void admittedReportsTheBurstTheRemainderAndTheSecondsUntilFull() {
        RateLimitConfig tenPerSecond = Rules.requests("r", 10, Duration.ofSeconds(1), 10);
        assertEquals(new RateLimitQuota(10, 9, 1), RateLimitQuota.admitted(tenPerSecond, 9), "0.1 s rounds up");
        assertEquals(new RateLimitQuota(10, 0, 1), RateLimitQuota.admitted(tenPerSecond, 0), "exactly 1 s");
        assertEquals(new RateLimitQuota(10, 10, 0), RateLimitQuota.admitted(tenPerSecond, 10), "already full");

        RateLimitConfig tokens = Rules.tokens("t", 100_000, Duration.ofMinutes(1), 10_000);
        assertEquals(new RateLimitQuota(10_000, 0, 6), RateLimitQuota.admitted(tokens, 0));
        assertEquals(new RateLimitQuota(10_000, 9_000, 1), RateLimitQuota.admitted(tokens, 9_000), "0.6 s");
        assertEquals(new RateLimitQuota(10_000, 8_000, 2), RateLimitQuota.admitted(tokens, 8_000), "1.2 s");

        RateLimitConfig thirds = Rules.requests("r", 3, Duration.ofSeconds(1), 3);
        assertEquals(1, RateLimitQuota.admitted(thirds, 0).resetSeconds(), "3 x 1/3 s is 1 s, not a hair more");
    }

    @Test
    void admittedIsExactWhereTheProductOverflowsALong() {
        RateLimitConfig slow = Rules.requests("r", 1, Duration.ofDays(1), 1_000_000_000_000L);
        long days = 1_000_000_000_000L;
        assertEquals(days * 86_400, RateLimitQuota.admitted(slow, 0).resetSeconds());
    }

    @Test
    void retryAfterRoundsUpToWholeSecondsAndIsAtLeastOne() {
        assertEquals(1, RateLimitQuota.retryAfterSeconds(-1));
        assertEquals(1, RateLimitQuota.retryAfterSeconds(-1_000_000_000L));
        assertEquals(2, RateLimitQuota.retryAfterSeconds(-1_000_000_001L));
        assertEquals(Long.MAX_VALUE / 1_000_000_000L + 1, RateLimitQuota.retryAfterSeconds(Long.MIN_VALUE));
    }

    @Test
    void resultsOfTheWrongSignAreRejected() {
        RateLimitConfig rule = Rules.requests("r", 10, Duration.ofSeconds(1), 10);
        assertThrows(IllegalArgumentException.class, () -> RateLimitQuota.admitted(rule, -5));
        assertThrows(IllegalArgumentException.class, () -> RateLimitQuota.retryAfterSeconds(0));
        assertThrows(IllegalArgumentException.class, () -> RateLimitQuota.retryAfterSeconds(7));
    }
}
