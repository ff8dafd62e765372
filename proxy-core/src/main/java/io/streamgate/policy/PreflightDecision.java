package io.streamgate.policy;

import java.util.List;

/**
 * The answer to a CORS preflight. Allowed: send 204 with {@code headers}. Denied: send 403 {@code cors_origin_denied}
 * with {@code headers} (only {@code vary: Origin}, so a cache cannot serve the denial to another origin).
 */
public record PreflightDecision(boolean allowed, List<ResponseHeader> headers) {
    public PreflightDecision {
        headers = List.copyOf(headers);
    }
}
