package io.streamgate.bench;

import io.streamgate.policy.cache.BodyDigest;
import io.streamgate.policy.cache.CacheKey;
import io.streamgate.policy.cache.CacheKeys;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The per-request cost of building a response-cache key, paid on every request of a cached route before the lookup:
 * a GET (string building only) and a POST with a ~1 KiB chat body (JSON normalisation, SHA-256, string building).
 * {@code postKeyRawBody} digests a body of the same size that is not JSON, which is the SHA-256 floor; the difference
 * to {@code postKey} is what normalisation costs.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class CacheKeyBenchmark {
    /** A realistic chat request, members deliberately not in sorted order so the normaliser has to reorder. */
    private static final String CHAT_BODY = "{\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"messages\":["
            + "{\"role\":\"system\",\"content\":\"You are a concise assistant. Answer in one short paragraph and "
            + "never use lists unless the user asks for them explicitly.\"},"
            + "{\"role\":\"user\",\"content\":\"Summarise the trade-offs between caching LLM responses at the "
            + "gateway and caching them in the application, considering determinism, privacy and cost.\"},"
            + "{\"role\":\"assistant\",\"content\":\"Gateway caching is transparent to applications and shares "
            + "entries across services, but it must respect identities and only cache deterministic requests.\"},"
            + "{\"role\":\"user\",\"content\":\"What does that mean for requests that carry a sampling "
            + "temperature above zero, or a seed, or per-user metadata that the model never actually reads?\"},"
            + "{\"role\":\"user\",\"content\":\"And what about streaming responses? Can they be replayed from the "
            + "cache with the same event boundaries and timing characteristics?\"}],"
            + "\"temperature\":0,\"top_p\":1,\"max_tokens\":256,\"stream\":false,\"seed\":42,"
            + "\"stop\":[\"\\n\\n\",\"User:\"],\"user\":\"bench-user-0001\"}";

    private byte[] chatBody;
    private byte[] rawBody;

    @Setup
    public void setUp() {
        chatBody = CHAT_BODY.getBytes(StandardCharsets.UTF_8);
        rawBody = ("prompt=" + CHAT_BODY).getBytes(StandardCharsets.UTF_8);
    }

    @Benchmark
    public CacheKey getKey() {
        return CacheKeys.of("models", "GET", "api.example.com", "/v1/models?limit=20", null, "team-a");
    }

    @Benchmark
    public CacheKey postKey() {
        return CacheKeys.of("chat", "POST", "api.example.com", "/v1/chat/completions",
                BodyDigest.of(chatBody, chatBody.length), "team-a");
    }

    @Benchmark
    public CacheKey postKeyRawBody() {
        return CacheKeys.of("chat", "POST", "api.example.com", "/v1/chat/completions",
                BodyDigest.of(rawBody, rawBody.length), "team-a");
    }
}
