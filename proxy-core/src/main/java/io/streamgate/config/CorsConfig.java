package io.streamgate.config;

import java.time.Duration;
import java.util.List;

/**
 * A route's CORS settings, validated and normalised: origins in canonical form (lower case, default port dropped),
 * methods upper case, header names lower case.
 *
 * @param allowedOrigins  exact origins, {@code https://*.example.com} wildcards, {@code *} (alone), or {@code null}
 * @param exposedHeaders  response headers scripts may read
 * @param maxAge          how long a browser may cache a preflight answer
 */
public record CorsConfig(
        List<String> allowedOrigins,
        List<String> allowedMethods,
        List<String> allowedHeaders,
        List<String> exposedHeaders,
        boolean allowCredentials,
        Duration maxAge) {

    public CorsConfig {
        allowedOrigins = List.copyOf(allowedOrigins);
        allowedMethods = List.copyOf(allowedMethods);
        allowedHeaders = List.copyOf(allowedHeaders);
        exposedHeaders = List.copyOf(exposedHeaders);
    }
}
