package io.streamgate.config;

/**
 * The admin listener: health, readiness, metrics, the active config, reload and cache purge, kept off the public
 * listener.
 *
 * @param token when set, every {@code /admin/*} call needs {@code Authorization: Bearer <token>}; null for none
 */
public record AdminConfig(String host, int port, String token) {
    @Override
    public String toString() {
        return "AdminConfig[" + host + ":" + port + (token == null ? "" : ", token=<redacted>") + "]";
    }
}
