package io.streamgate.config;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Objects;

/**
 * One API key: the identity it stands for and the SHA-256 of the key. Only the digest is kept after loading, so the
 * plain key is not held in the config snapshot. The array is copied in and out (a record would otherwise expose it),
 * equality compares contents, and {@link #toString()} never prints key material, since configs end up in logs.
 */
public record ApiKeyConfig(String name, byte[] sha256, int queueWeight, int priority) {
    public ApiKeyConfig(String name, byte[] sha256) {
        this(name, sha256, 1, 0);
    }

    public ApiKeyConfig {
        Objects.requireNonNull(name, "name");
        if (sha256.length != 32) {
            throw new IllegalArgumentException("sha256 must be 32 bytes");
        }
        sha256 = sha256.clone();
    }

    @Override
    public byte[] sha256() {
        return sha256.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ApiKeyConfig k && k.name.equals(name) && MessageDigest.isEqual(k.sha256, sha256)
                && k.queueWeight == queueWeight && k.priority == priority;
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + Arrays.hashCode(sha256)) * 31 + queueWeight * 17 + priority;
    }

    @Override
    public String toString() {
        return "ApiKeyConfig[name=" + name + ", sha256=<redacted>]";
    }
}
