package io.streamgate.config;

/**
 * How a route reads LLM token usage; active when the route has a TOKENS rate limit or {@code meter} is set.
 *
 * @param meter        read usage (access log, metrics) even without a token limit
 * @param injectUsage  add {@code stream_options.include_usage} to streamed requests so usage is always reported
 * @param peekLimit    most bytes of a JSON request body held to estimate (and rewrite) it
 */
public record TokenAccountingConfig(boolean meter, boolean injectUsage, int peekLimit) {
}
