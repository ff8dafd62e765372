package io.streamgate.policy.ratelimit;

/**
 * Nanosecond time source for the token buckets (and their expiry); tests inject a manual one so that refill
 * arithmetic can be checked to the nanosecond without sleeping. Implementations must be thread-safe and, like
 * {@link System#nanoTime()}, only differences between readings matter.
 */
@FunctionalInterface
public interface NanoClock {
    NanoClock SYSTEM = System::nanoTime;

    long nanoTime();
}
