package io.streamgate.config;

import java.time.Duration;

/**
 * How one route uses the response cache.
 *
 * @param ttl      freshness of a response that states none itself (no max-age, s-maxage or Expires)
 * @param post     whether POST responses are cached
 * @param streamed whether event streams are cached (and replayed as event streams)
 * @param shared   whether callers with different identities share entries (otherwise each API key has its own)
 */
public record RouteCacheConfig(Duration ttl, PostMode post, boolean streamed, boolean shared) {

    /** NEVER: GET/HEAD only. ALWAYS: every POST. DETERMINISTIC: POSTs whose JSON body has {@code temperature: 0}. */
    public enum PostMode { NEVER, ALWAYS, DETERMINISTIC }
}
