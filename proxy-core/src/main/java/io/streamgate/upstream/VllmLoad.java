package io.streamgate.upstream;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * How busy a vLLM server is, from its Prometheus {@code /metrics}: requests queued, requests running and how full
 * its KV cache is. Queued requests weigh most in {@link #score}, since each one waits for everything ahead of it.
 */
public record VllmLoad(double waiting, double running, double kvCacheUsage) {
    private static final int WAITING = 0;
    private static final int RUNNING = 1;
    private static final int KV_CACHE = 2;
    /** The gauges read, each with what it feeds; vLLM renamed the cache gauge (gpu_ to kv_), so both are read. */
    private static final byte[][] NAMES = {
        ascii("vllm:num_requests_waiting"), ascii("vllm:num_requests_running"),
        ascii("vllm:gpu_cache_usage_perc"), ascii("vllm:kv_cache_usage_perc"),
    };
    private static final int[] FEEDS = {WAITING, RUNNING, KV_CACHE, KV_CACHE};

    /** A cache this full makes vLLM preempt running requests; new work there is slow whatever the queue says. */
    private static final double KV_CACHE_PRESSURE = 0.9;

    /**
     * Sums the waiting and running gauges over all their label sets (one per model served) and takes the highest
     * cache usage (a fraction, 0..1). A missing gauge counts 0, as do NaN and infinite values; lines that do not
     * parse are skipped. Returns null if none of the gauges has a sample: then this is not a vLLM endpoint.
     *
     * <p>Only lines whose metric name matches exactly are looked at beyond their name, and only they allocate
     * (the value's text), so a 100 KB body of histograms costs little more than a scan for line ends.
     */
    public static VllmLoad parse(byte[] body) {
        double[] sums = new double[3];
        boolean seen = false;
        int lineStart = 0;
        while (lineStart < body.length) {
            int lineEnd = lineStart;
            while (lineEnd < body.length && body[lineEnd] != '\n') {
                lineEnd++;
            }
            int p = skipBlanks(body, lineStart, lineEnd);
            int nameEnd = p;
            while (nameEnd < lineEnd && isNameByte(body[nameEnd])) {
                nameEnd++;
            }
            int metric = metric(body, p, nameEnd);
            if (metric >= 0) {
                double value = sampleValue(body, nameEnd, lineEnd);
                if (!Double.isNaN(value)) {
                    seen = true;
                    int feeds = FEEDS[metric];
                    sums[feeds] = feeds == KV_CACHE ? Math.max(sums[feeds], value) : sums[feeds] + value;
                }
            }
            lineStart = lineEnd + 1;
        }
        return seen ? new VllmLoad(sums[WAITING], sums[RUNNING], sums[KV_CACHE]) : null;
    }

    /**
     * waiting*4 + running + inFlight, plus 8 under cache pressure. {@code inFlight} is the gateway's own count of
     * requests open to the server: it moves at once, while the gauges are only as fresh as the last scrape.
     */
    public double score(int inFlight) {
        return waiting * 4 + running + inFlight + (kvCacheUsage >= KV_CACHE_PRESSURE ? 8 : 0);
    }

    /** Index into NAMES of the name at [from, to), or -1; comment lines never match since '#' is no name byte. */
    private static int metric(byte[] b, int from, int to) {
        for (int m = 0; m < NAMES.length; m++) {
            byte[] name = NAMES[m];
            if (to - from == name.length && Arrays.equals(b, from, to, name, 0, name.length)) {
                return m;
            }
        }
        return -1;
    }

    /**
     * The value after the name at {@code p}: past the label set, if any, then the first blank-separated token (a
     * timestamp may follow). NaN when the line does not parse; 0 for NaN and infinite samples, which say nothing
     * about load.
     */
    private static double sampleValue(byte[] b, int p, int end) {
        if (p < end && b[p] == '{') {
            // Label values are quoted and may hold '}', blanks, commas and escaped quotes.
            boolean quoted = false;
            for (p++; p < end && (quoted || b[p] != '}'); p++) {
                if (quoted && b[p] == '\\') {
                    p++;
                } else if (b[p] == '"') {
                    quoted = !quoted;
                }
            }
            if (p >= end) {
                return Double.NaN;
            }
            p++;
        } else if (p < end && !isBlank(b[p])) {
            return Double.NaN; // the name runs on with a byte names cannot hold: some other metric
        }
        int start = skipBlanks(b, p, end);
        int stop = start;
        while (stop < end && !isBlank(b[stop])) {
            stop++;
        }
        String text = new String(b, start, stop - start, StandardCharsets.ISO_8859_1);
        double value;
        try {
            value = Double.parseDouble(text);
        } catch (NumberFormatException e) {
            // Prometheus spells infinity +Inf/-Inf, which Java does not parse; those say nothing about load either.
            return text.equals("+Inf") || text.equals("-Inf") ? 0 : Double.NaN;
        }
        return Double.isFinite(value) ? value : 0;
    }

    private static int skipBlanks(byte[] b, int p, int end) {
        while (p < end && isBlank(b[p])) {
            p++;
        }
        return p;
    }

    /** '\r' counts as blank so that CRLF line ends need no special case. */
    private static boolean isBlank(byte c) {
        return c == ' ' || c == '\t' || c == '\r';
    }

    private static boolean isNameByte(byte c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':';
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
