package io.streamgate.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoopGroup;
import org.HdrHistogram.Histogram;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Opens C concurrent SSE streams to a URL served by {@link BenchBackend} (directly or through a proxy), and for
 * every event records receive-nanoTime minus the send-nanoTime the backend embedded. Each connection runs
 * streams back to back (keep-alive) until the duration is over; events received during the warm-up are dropped.
 * The client is plain Netty (HttpClientCodec emits each chunk as it is read; nothing is aggregated).
 *
 * <p>With {@code --streams-fixed true} each of the C connections runs exactly one stream (as long as the URL asks
 * for) and is not replaced: the "many long streams" load, where C is in the thousands. Then the duration only
 * bounds the wait (plus two minutes of grace), and every event after the warm-up is recorded. Connections can be
 * opened in batches ({@code --ramp-batch N --ramp-interval-ms M}: N connections, then a pause of M ms) so the
 * target's accept queue is not flooded. With {@code --h2c-streams K} (fixed mode only) the streams go over HTTP/2
 * with prior knowledge, K per connection ({@link ProbeH2Connection}); the ramp then counts streams, in whole
 * connections.
 *
 * <p>Prints one machine-readable line on stdout:
 * {@code SSE_RESULT label=.. concurrency=.. streams=.. events=.. errors=.. complete=.. p50_us=.. p90_us=.. p99_us=..
 * p999_us=.. max_us=.. mean_us=.. events_total=.. connections=.. all_open_ms=.. elapsed_ms=.. cpu_ms=..}:
 * {@code streams} completed with {@code [DONE]}, {@code events} measured, {@code events_total} received including
 * the warm-up, {@code connections} that opened, {@code all_open_ms} from the first connect until C connections had
 * opened (-1: never), {@code elapsed_ms} from the first connect to the end, {@code cpu_ms} the CPU time this probe
 * process used (its share of a small machine).
 */
public final class SseLatencyProbe {
    private static final String USAGE = "SseLatencyProbe --url http://127.0.0.1:18080/sse?events=200&interval_ms=10"
            + " [--concurrency 100] [--duration-s 10] [--warmup-s 3] [--threads 1]"
            + " [--transport auto|epoll|io_uring|nio] [--label direct]"
            + " [--streams-fixed false] [--ramp-batch 0 (all at once)] [--ramp-interval-ms 100]"
            + " [--h2c-streams 0 (HTTP/1.1; K: HTTP/2 prior knowledge, K streams per connection, fixed mode only)]";

    public static void main(String[] argv) throws InterruptedException {
        Args args = new Args(argv, Map.ofEntries(
                Map.entry("url", "http://127.0.0.1:18080/sse?events=200&interval_ms=10"),
                Map.entry("concurrency", "100"),
                Map.entry("duration-s", "10"),
                Map.entry("warmup-s", "3"),
                Map.entry("threads", "1"),
                Map.entry("transport", "auto"),
                Map.entry("label", "probe"),
                Map.entry("streams-fixed", "false"),
                Map.entry("ramp-batch", "0"),
                Map.entry("ramp-interval-ms", "100"),
                Map.entry("h2c-streams", "0")), USAGE);
        URI url = URI.create(args.string("url"));
        int concurrency = args.integer("concurrency");
        boolean fixed = Boolean.parseBoolean(args.string("streams-fixed"));
        int rampBatch = args.integer("ramp-batch");
        int rampIntervalMs = args.integer("ramp-interval-ms");
        int h2cStreams = args.integer("h2c-streams");
        if (h2cStreams > 0 && !fixed) {
            System.err.println("--h2c-streams needs --streams-fixed true\n" + USAGE);
            System.exit(2);
        }
        Transport transport = Transport.select(args.string("transport"));

        long start = System.nanoTime();
        long measureFrom = start + TimeUnit.SECONDS.toNanos(args.integer("warmup-s"));
        long duration = TimeUnit.SECONDS.toNanos(args.integer("duration-s"));
        long deadline = measureFrom + duration;
        ProbeRun run = new ProbeRun(url, measureFrom, deadline, concurrency, fixed);

        EventLoopGroup group = transport.newGroup(args.integer("threads"));
        try {
            Bootstrap bootstrap = transport.clientBootstrap(group);
            List<ProbeSlot> slots = new ArrayList<>(concurrency);
            for (int i = 0; i < concurrency; i++) {
                slots.add(new ProbeSlot(run, bootstrap, group));
            }
            int perConnection = Math.max(1, h2cStreams);
            int sinceRampPause = 0;
            for (int i = 0; i < concurrency; i += perConnection) {
                List<ProbeSlot> batch = slots.subList(i, Math.min(concurrency, i + perConnection));
                if (h2cStreams > 0) {
                    new ProbeH2Connection(run, bootstrap, batch).connect();
                } else {
                    batch.get(0).connect();
                }
                sinceRampPause += batch.size();
                if (rampBatch > 0 && sinceRampPause >= rampBatch && i + perConnection < concurrency) {
                    Thread.sleep(rampIntervalMs);
                    sinceRampPause = 0;
                }
            }
            // Streams started before the deadline may still run; bound the wait so a stuck proxy cannot hang us.
            // A fixed stream opened at the end of the ramp runs for the duration from then.
            long graceNanos = TimeUnit.SECONDS.toNanos(120);
            long waitUntil = fixed ? Math.max(deadline, System.nanoTime() + duration) : deadline;
            boolean allDone = run.awaitSlots(waitUntil - System.nanoTime() + graceNanos);
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            long allOpenMs = run.allOpenAt() == 0 ? -1 : TimeUnit.NANOSECONDS.toMillis(run.allOpenAt() - start);
            System.out.println(format(args.string("label"), run, allDone, allOpenMs, elapsedMs));
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static String format(String label, ProbeRun run, boolean allDone, long allOpenMs, long elapsedMs) {
        Histogram h = run.latencies();
        return String.format(Locale.ROOT,
                "SSE_RESULT label=%s concurrency=%d streams=%d events=%d errors=%d complete=%s"
                        + " p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f"
                        + " events_total=%d connections=%d all_open_ms=%d elapsed_ms=%d cpu_ms=%d",
                label, run.concurrency(), run.streamsCompleted(), h.getTotalCount(), run.errors(), allDone,
                ProbeTime.micros(h.getValueAtPercentile(50)), ProbeTime.micros(h.getValueAtPercentile(90)),
                ProbeTime.micros(h.getValueAtPercentile(99)), ProbeTime.micros(h.getValueAtPercentile(99.9)),
                ProbeTime.micros(h.getMaxValue()), h.getMean() / 1_000.0,
                run.eventsTotal(), run.connections(), allOpenMs, elapsedMs, ProbeTime.processCpuMillis());
    }

    private SseLatencyProbe() {
    }
}
