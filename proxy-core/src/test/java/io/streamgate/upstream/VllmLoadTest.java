package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Load figures read from vLLM's Prometheus text, exact metric names only. */
class VllmLoadTest {
    /** Trimmed from a vLLM 0.6 /metrics page serving two models, with decoys that share prefixes or look alike. */
    private static final String METRICS = """
            # HELP vllm:num_requests_running Number of requests currently running on GPU.
            # TYPE vllm:num_requests_running gauge
            vllm:num_requests_running{model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
            vllm:num_requests_running{model_name="qwen"} 2.0
            # HELP vllm:num_requests_waiting Number of requests waiting to be processed.
            # TYPE vllm:num_requests_waiting gauge
            vllm:num_requests_waiting{model_name="meta-llama/Llama-3.1-8B-Instruct"} 5.0
            vllm:num_requests_waiting{model_name="qwen"} 1.0
            # HELP vllm:num_requests_waiting_total Decoy sharing the gauge's name as a prefix.
            # TYPE vllm:num_requests_waiting_total counter
            vllm:num_requests_waiting_total{model_name="qwen"} 1000.0
            vllm:num_requests_running_created{model_name="qwen"} 1.7320001e+09
            # HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
            # TYPE vllm:gpu_cache_usage_perc gauge
            vllm:gpu_cache_usage_perc{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.42
            vllm:gpu_cache_usage_perc{model_name="qwen"} 0.17
            vllm:gpu_prefix_cache_hit_rate{model_name="qwen"} 0.99
            # TYPE vllm:e2e_request_latency_seconds histogram
            vllm:e2e_request_latency_seconds_bucket{le="1.0",model_name="qwen"} 7.0
            vllm:e2e_request_latency_seconds_bucket{le="+Inf",model_name="qwen"} 12.0
            vllm:e2e_request_latency_seconds_count{model_name="qwen"} 12.0
            vllm:e2e_request_latency_seconds_sum{model_name="qwen"} 30.5
            python_gc_objects_collected_total{generation="0"} 12345.0
            """;

    @Test
    void sumsTheQueuesOverModelsAndTakesTheFullestCache() {
        VllmLoad load = parse(METRICS);
        assertEquals(new VllmLoad(6, 5, 0.42), load);
        assertEquals(6 * 4 + 5 + 2, load.score(2));
    }

    @Test
    void aFullCacheAddsToTheScore() {
        VllmLoad load = parse("vllm:num_requests_running 1\nvllm:kv_cache_usage_perc{engine=\"0\"} 0.95\n");
        assertEquals(new VllmLoad(0, 1, 0.95), load);
        assertEquals(1 + 8, load.score(0));
        assertEquals(8, new VllmLoad(0, 0, 0.9).score(0));
        assertEquals(0, new VllmLoad(0, 0, 0.89).score(0));
    }

    @Test
    void labelValuesMayHoldBracesBlanksCommasAndEscapedQuotes() {
        VllmLoad load = parse("""
                vllm:num_requests_waiting{model_name="a \\"quoted\\" } name, with blanks",x="\\\\"} 2
                vllm:num_requests_waiting{model_name="x} 99"} 3
                """);
        assertEquals(5, load.waiting());
    }

    @Test
    void timestampsCrlfBlanksAndOddValuesAreTolerated() {
        String body = "# HELP vllm:num_requests_waiting waiting\r\n"
                + "vllm:num_requests_waiting{model_name=\"a\"}\t4 1732000000000\r\n"
                + "vllm:num_requests_waiting{model_name=\"b\"} NaN\r\n"
                + "vllm:num_requests_waiting{model_name=\"c\"} +Inf\r\n"
                + "vllm:num_requests_running{model_name=\"a\"} 1e1\r\n"
                + "vllm:num_requests_running{model_name=\"b\"} -Inf\r\n"
                + "vllm:num_requests_running{model_name=\"c\"} garbage\r\n"
                + "vllm:num_requests_running{model_name=\"unterminated} 7\r\n"
                + "vllm:num_requests_running\r\n"
                + "\r\n"
                + "vllm:gpu_cache_usage_perc 0.5";
        assertEquals(new VllmLoad(4, 10, 0.5), parse(body));
    }

    @Test
    void missingGaugesCountZero() {
        assertEquals(new VllmLoad(0, 0, 0.3), parse("vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.3\n"));
        assertEquals(new VllmLoad(2, 0, 0), parse("vllm:num_requests_waiting 2"));
    }

    @Test
    void withoutAnyOfTheGaugesItIsNoVllmEndpoint() {
        assertNull(parse(""));
        assertNull(parse("""
                # HELP vllm:num_requests_waiting only described, never sampled
                # TYPE vllm:num_requests_waiting gauge
                vllm:num_requests_waiting_total 4
                vllm:num_requests_waiting-x 4
                process_cpu_seconds_total 12.5
                """));
    }

    @Test
    void aLargeBodyParsesInOnePass() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() < 150_000; i++) {
            sb.append("vllm:time_to_first_token_seconds_bucket{le=\"").append(i).append("\",model_name=\"m\"} ")
                    .append(i).append('\n');
        }
        sb.append("vllm:num_requests_waiting{model_name=\"m\"} 9\n");
        assertEquals(new VllmLoad(9, 0, 0), parse(sb.toString()));
    }

    private static VllmLoad parse(String text) {
        return VllmLoad.parse(text.getBytes(StandardCharsets.UTF_8));
    }
}
