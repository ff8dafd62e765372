package io.streamgate.policy.llm;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;

/**
 * The jackson factories of this package, configured once (factories are thread-safe and meant to be shared).
 */
final class LlmJson {
    /**
     * Request bodies: already bounded by the route's peek limit, so only nesting is tightened (real requests nest a
     * few levels, JSON schemas in tools a dozen or so).
     */
    static final JsonFactory REQUESTS = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(256).build())
            .build();

    /**
     * Response bodies: jackson buffers every string token whole even when nobody reads it, so the longest string is
     * what bounds a scanner's memory. One million characters is about 250k tokens of completion, more than any model
     * writes in one answer; a longer string stops the scan (the usage is then unknown, never wrong). jackson checks
     * the cap each time its buffer grows by a segment, so it holds to within one segment (tens of kilobytes).
     */
    static final int MAX_RESPONSE_STRING_CHARS = 1 << 20;

    static final JsonFactory RESPONSES = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(256)
                    .maxStringLength(MAX_RESPONSE_STRING_CHARS)
                    .build())
            .build();

    private LlmJson() {
    }
}
