package io.streamgate.policy.llm;

/**
 * Token counts a backend reported in an OpenAI-style {@code usage} object. Immutable.
 *
 * @param promptTokens     {@code usage.prompt_tokens}, 0 when the backend left it out (embeddings report no completion)
 * @param completionTokens {@code usage.completion_tokens}, 0 when left out
 */
public record Usage(long promptTokens, long completionTokens) {

    /** @throws IllegalArgumentException when a count is negative */
    public Usage {
        if (promptTokens < 0 || completionTokens < 0) {
            throw new IllegalArgumentException("token counts must not be negative: " + promptTokens + ", " + completionTokens);
        }
    }

    /**
     * Prompt plus completion tokens. Computed rather than read from {@code total_tokens} so a backend that reports an
     * inconsistent total cannot charge less than the two counts it reported.
     */
    public long total() {
        return promptTokens + completionTokens;
    }
}
