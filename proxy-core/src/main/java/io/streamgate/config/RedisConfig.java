package io.streamgate.config;

import java.time.Duration;

/**
 * The shared store for rate-limit rules with {@code store: redis}.
 *
 * @param uri       a Lettuce URI, e.g. {@code redis://127.0.0.1:6379/0} (may carry a password)
 * @param timeout   longest wait for one acquire before the failure mode applies
 * @param onFailure what to do while Redis cannot answer
 * @param keyPrefix prepended to every Redis key, so several fleets can share a server
 */
public record RedisConfig(String uri, Duration timeout, FailureMode onFailure, String keyPrefix) {

    /** OPEN falls back to local buckets; CLOSED refuses the request (503). */
    public enum FailureMode { OPEN, CLOSED }

    @Override
    public String toString() {
        return "RedisConfig[timeout=" + timeout + ", onFailure=" + onFailure + "]"; // the URI may hold a password
    }
}
