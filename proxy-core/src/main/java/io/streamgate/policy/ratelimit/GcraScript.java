package io.streamgate.policy.ratelimit;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The Lua script that runs GCRA atomically in Redis, the same algorithm as {@link LocalBucketLimiter}, and its
 * SHA-1 for EVALSHA. Needs Redis 5 or later (effects replication of a script that reads TIME, multi-field HSET).
 *
 * <p>Redis server time is used, not the gateway's, so instances with skewed clocks agree. Lua numbers are
 * doubles, which cannot hold absolute nanosecond timestamps exactly; so the bucket is stored as the server time
 * of its last change in microseconds (exact) plus how far, in nanoseconds, its theoretical arrival time was then
 * ahead of it (a span, precise to the double's relative precision). A missing key is a full bucket: a full one is
 * deleted and every other one expires when it would be full again.
 *
 * <p>KEYS[1]: the bucket. ARGV: per (ns), amount, burst, n, max ahead (ns, the debt cap), mode: {@code a} acquire
 * (returns remaining whole tokens, or -(wait ns)), {@code j} adjust by n tokens, negative refunds (returns 0).
 * Immutable.
 */
final class GcraScript {
    static final String ACQUIRE = "a";
    static final String ADJUST = "j";

    static final String SOURCE = """
            local interval = tonumber(ARGV[1]) / tonumber(ARGV[2])
            local burst = tonumber(ARGV[3])
            local n = tonumber(ARGV[4])
            local max_ahead = tonumber(ARGV[5])
            local time = redis.call('TIME')
            local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
            local ahead = 0
            local state = redis.call('HMGET', KEYS[1], 't', 'a')
            if state[1] and state[2] then
              ahead = math.max(0, tonumber(state[2]) - (now - tonumber(state[1])) * 1000)
            end
            local result = 0
            if ARGV[6] == 'a' then
              if n > burst then
                if ahead > 0 then
                  return -math.max(1, math.ceil(ahead))
                end
                ahead = math.min(n * interval, max_ahead)
              else
                local tau = burst * interval
                local after = ahead + n * interval
                -- the relative slack absorbs rounding of the sums of a fractional interval
                if after > tau * (1 + 1e-12) then
                  return -math.max(1, math.ceil(after - tau))
                end
                ahead = after
                result = math.max(0, math.floor((tau - after) / interval + 1e-9))
              end
            else
              ahead = math.min(math.max(0, ahead + n * interval), max_ahead)
            end
            if ahead > 0 then
              redis.call('HSET', KEYS[1], 't', now, 'a', ahead)
              redis.call('PEXPIRE', KEYS[1], math.ceil(ahead / 1000000))
            else
              redis.call('DEL', KEYS[1])
            end
            return result
            """;

    static final String SHA1 = sha1(SOURCE);

    private GcraScript() {
    }

    private static String sha1(String text) {
        try {
            return HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is required of every JDK", e);
        }
    }
}
