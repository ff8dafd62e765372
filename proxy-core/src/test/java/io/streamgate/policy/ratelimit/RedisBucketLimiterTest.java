package io.streamgate.policy.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.streamgate.config.RateLimitConfig;
import io.streamgate.config.RateLimitConfig.Kind;
import io.streamgate.config.RateLimitConfig.Store;
import io.streamgate.config.RedisConfig;
import io.streamgate.config.RedisConfig.FailureMode;
import io.streamgate.testing.ManualClock;
import io.streamgate.testing.RedisServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Against a real redis-server started per test (see {@link RedisServer}). */
class RedisBucketLimiterTest {
    private static final Duration HOUR = Duration.ofHours(1);
    private static final long TWELVE_MINUTES = Duration.ofMinutes(12).toNanos(); // one token of 5 per hour

    private RedisServer redis;
    private final List<RateLimiters> gateways = new ArrayList<>();

    @BeforeEach
    void startRedis() throws Exception {
        RedisServer.assumeInstalled();
        redis = RedisServer.start();
    }

    @AfterEach
    void stopAll() throws Exception {
        gateways.forEach(RateLimiters::close);
        if (redis != null) {
            redis.close();
        }
    }

    private RateLimiters gateway(FailureMode mode, NanoClock clock, RateLimitConfig rule) {
        RedisConfig config = new RedisConfig(redis.url(), Duration.ofMillis(500), mode, "sg-test:");
        RateLimiters limiters = RateLimiters.create(List.of(rule), config, clock);
        gateways.add(limiters);
        return limiters;
    }

    private static RateLimitConfig redisRule(Kind kind, long amount, Duration per, long burst) {
        return Rules.bucket("r", kind, amount, per, burst, Store.REDIS);
    }

    private static long get(CompletableFuture<Long> result) throws Exception {
        return result.get(10, TimeUnit.SECONDS);
    }

    @Test
    void twoGatewaysSharingOneRedisSeeOneCombinedLimit() throws Exception {
        RateLimitConfig rule = redisRule(Kind.REQUESTS, 5, HOUR, 5);
        RateLimiters first = gateway(FailureMode.OPEN, NanoClock.SYSTEM, rule);
        RateLimiters second = gateway(FailureMode.OPEN, NanoClock.SYSTEM, rule);
        BucketLimiter a = first.bucket("r");
        BucketLimiter b = second.bucket("r");
        assertFalse(a.isLocal());
        assertThrows(UnsupportedOperationException.class, () -> a.tryAcquire("alice", 1));

        assertEquals(4, get(a.acquire("alice", 1)));
        assertEquals(3, get(b.acquire("alice", 1)));
        assertEquals(2, get(a.acquire("alice", 1)));
        assertEquals(1, get(b.acquire("alice", 1)));
        assertEquals(0, get(a.acquire("alice", 1)));
        long refused = get(b.acquire("alice", 1));
        assertTrue(refused < 0 && -refused <= TWELVE_MINUTES && -refused > TWELVE_MINUTES - 60_000_000_000L,
                "about one token's refill: " + refused);
        assertEquals(refused / 1_000_000_000L, get(a.acquire("alice", 1)) / 1_000_000_000L, 1);
        assertEquals(4, get(b.acquire("bob", 1)), "keys are independent");

        long ttl = redis.pttl("sg-test:r:alice");
        assertTrue(ttl > HOUR.toMillis() - 60_000 && ttl <= HOUR.toMillis(), "expires when full again: " + ttl);
        assertEquals(0, first.fallbackAcquires() + second.fallbackAcquires());
        assertEquals(0, first.storeFailures() + second.storeFailures());
        assertTrue(first.storeAvailable() && second.storeAvailable());
    }

    @Test
    void tokenCostsDebtsAndRefundsAreKeptInRedis() throws Exception {
        RateLimiters gateway = gateway(FailureMode.OPEN, NanoClock.SYSTEM, redisRule(Kind.TOKENS, 1_000, HOUR, 1_000));
        BucketLimiter tokens = gateway.bucket("r");
        long perToken = HOUR.toNanos() / 1_000;
        assertEquals(400, get(tokens.acquire("k", 600)));
        tokens.adjust("k", 300); // the response used 900 tokens, not 600
        long refused = get(tokens.acquire("k", 200));
        assertTrue(refused < 0 && -refused <= 100 * perToken && -refused > 99 * perToken, "owes 100: " + refused);
        tokens.adjust("k", -500);
        assertEquals(400, get(tokens.acquire("k", 200)));

        tokens.adjust("k", -1_000_000);
        assertEquals(0, get(tokens.acquire("k", 1_500)), "a full bucket admits a request above the burst");
        long afterOversized = get(tokens.acquire("k", 1));
        assertTrue(afterOversized < -500 * perToken, "and owes the excess: " + afterOversized);
        tokens.adjust("k", -1_000_000);
        assertEquals(999, get(tokens.acquire("k", 1)));
        tokens.adjust("k", -1);
        // Taking 0 peeks; it runs after the adjustments, which share its connection.
        assertEquals(1_000, get(tokens.acquire("k", 0)));
        assertEquals(-2, redis.pttl("sg-test:r:k"), "a full bucket is deleted");
        assertEquals(0, gateway.storeFailures());
    }

    @Test
    void failOpenAnswersFromLocalBucketsWhileRedisIsDownAndUsesRedisAgainOnceItIsBack() throws Exception {
        ManualClock clock = new ManualClock(0);
        RateLimiters gateway = gateway(FailureMode.OPEN, clock, redisRule(Kind.REQUESTS, 5, HOUR, 5));
        BucketLimiter limiter = gateway.bucket("r");
        try (LogCapture log = new LogCapture()) {
            assertEquals(4, get(limiter.acquire("k", 1)));
            assertEquals(3, get(limiter.acquire("k", 1)));

            redis.stop();
            assertEquals(4, get(limiter.acquire("k", 1)), "a fresh local bucket answers");
            assertFalse(gateway.storeAvailable());
            assertEquals(1, gateway.fallbackAcquires());
            long failures = gateway.storeFailures();
            assertTrue(failures >= 1);

            assertEquals(3, get(limiter.acquire("k", 1)));
            limiter.adjust("k", 3);
            assertEquals(-TWELVE_MINUTES, get(limiter.acquire("k", 1)), "the adjustment went to the local bucket");
            assertEquals(failures, gateway.storeFailures(), "Redis is not tried again during the back-off");
            assertEquals(3, gateway.fallbackAcquires());

            redis.restart();
            clock.advance(RedisRateLimitStore.BACKOFF);
            assertEquals(4, get(limiter.acquire("k", 1)), "Redis again (restarted empty)");
            assertTrue(gateway.storeAvailable());
            assertEquals(3, get(limiter.acquire("k", 1)));
            assertEquals(3, gateway.fallbackAcquires());

            assertEquals(1, log.count(Level.WARN, "unreachable"), log.events.toString());
            assertEquals(1, log.count(Level.INFO, "answers again"), log.events.toString());
            assertTrue(log.events.stream().noneMatch(e -> e.getFormattedMessage().contains("redis://")));
        }
    }

    @Test
    void failClosedRefusesWhileRedisIsDown() throws Exception {
        ManualClock clock = new ManualClock(0);
        RateLimiters gateway = gateway(FailureMode.CLOSED, clock, redisRule(Kind.REQUESTS, 5, HOUR, 5));
        BucketLimiter limiter = gateway.bucket("r");
        assertEquals(4, get(limiter.acquire("k", 1)));
        redis.stop();

        ExecutionException first = assertThrows(ExecutionException.class, () -> get(limiter.acquire("k", 1)));
        assertInstanceOf(RateLimitStoreUnavailableException.class, first.getCause());
        assertNotNull(first.getCause().getCause(), "carries what Redis failed with");
        ExecutionException skipped = assertThrows(ExecutionException.class, () -> get(limiter.acquire("k", 1)));
        assertInstanceOf(RateLimitStoreUnavailableException.class, skipped.getCause());
        assertNull(skipped.getCause().getCause(), "Redis was skipped during the back-off");
        limiter.adjust("k", 10); // dropped, not thrown
        assertEquals(2, gateway.closedRefusals());
        assertEquals(0, gateway.fallbackAcquires());

        redis.restart();
        clock.advance(RedisRateLimitStore.BACKOFF);
        assertEquals(4, get(limiter.acquire("k", 1)));
        assertEquals(2, gateway.closedRefusals());
    }

    @Test
    void aGatewayStartsWhileRedisIsDown() throws Exception {
        redis.stop();
        RateLimiters gateway = gateway(FailureMode.OPEN, new ManualClock(0), redisRule(Kind.REQUESTS, 5, HOUR, 5));
        assertEquals(4, get(gateway.bucket("r").acquire("k", 1)));
        assertEquals(1, gateway.fallbackAcquires());
        assertTrue(gateway.storeFailures() >= 1);
        assertFalse(gateway.storeAvailable());
    }

    /** Records what RedisRateLimitStore logs at INFO and above while open. */
    private static final class LogCapture extends AppenderBase<ILoggingEvent> implements AutoCloseable {
        final Queue<ILoggingEvent> events = new ConcurrentLinkedQueue<>();
        private final Logger logger = (Logger) LoggerFactory.getLogger(RedisRateLimitStore.class);
        private final Level level = logger.getLevel();

        LogCapture() {
            setContext(logger.getLoggerContext());
            start();
            logger.addAppender(this);
            logger.setLevel(Level.INFO);
        }

        @Override
        protected void append(ILoggingEvent event) {
            events.add(event);
        }

        long count(Level wanted, String text) {
            return events.stream()
                    .filter(e -> e.getLevel() == wanted && e.getFormattedMessage().contains(text))
                    .count();
        }

        @Override
        public void close() {
            logger.detachAppender(this);
            logger.setLevel(level);
            stop();
        }
    }
}
