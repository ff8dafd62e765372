package io.streamgate.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
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
 * <p>Prints one machine-readable line on stdout:
 * {@code SSE_RESULT label=.. concurrency=.. streams=.. events=.. errors=.. p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=.. mean_us=..}
 */
public final class SseLatencyProbe {
    private static final String USAGE = "SseLatencyProbe --url http://127.0.0.1:18080/sse?events=200&interval_ms=10"
            + " [--concurrency 100] [--duration-s 10] [--warmup-s 3] [--threads 1]"
            + " [--transport auto|epoll|io_uring|nio] [--label direct]";

    public static void main(String[] argv) throws InterruptedException {
        Args args = new Args(argv, Map.of(
                "url", "http://127.0.0.1:18080/sse?events=200&interval_ms=10",
                "concurrency", "100",
                "duration-s", "10",
                "warmup-s", "3",
                "threads", "1",
                "transport", "auto",
                "label", "probe"), USAGE);
        URI url = URI.create(args.string("url"));
        int concurrency = args.integer("concurrency");
        Transport transport = Transport.select(args.string("transport"));

        long now = System.nanoTime();
        long measureFrom = now + TimeUnit.SECONDS.toNanos(args.integer("warmup-s"));
        long deadline = measureFrom + TimeUnit.SECONDS.toNanos(args.integer("duration-s"));
        ProbeRun run = new ProbeRun(url, measureFrom, deadline, concurrency);

        EventLoopGroup group = transport.newGroup(args.integer("threads"));
        try {
            Bootstrap bootstrap = new Bootstrap()
                    .group(group)
                    .channel(transport.clientChannel())
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5_000);
            List<ProbeSlot> slots = new ArrayList<>(concurrency);
            for (int i = 0; i < concurrency; i++) {
                slots.add(new ProbeSlot(run, bootstrap, group));
            }
            slots.forEach(ProbeSlot::connect);
            // Streams started before the deadline may still run; bound the wait so a stuck proxy cannot hang us.
            long graceNanos = TimeUnit.SECONDS.toNanos(120);
            boolean allDone = run.awaitSlots(deadline - System.nanoTime() + graceNanos);
            System.out.println(format(args.string("label"), run, allDone));
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static String format(String label, ProbeRun run, boolean allDone) {
        Histogram h = run.latencies();
        return String.format(Locale.ROOT,
                "SSE_RESULT label=%s concurrency=%d streams=%d events=%d errors=%d complete=%s"
                        + " p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f",
                label, run.concurrency(), run.streamsCompleted(), h.getTotalCount(), run.errors(), allDone,
                micros(h.getValueAtPercentile(50)), micros(h.getValueAtPercentile(90)),
                micros(h.getValueAtPercentile(99)), micros(h.getValueAtPercentile(99.9)),
                micros(h.getMaxValue()), h.getMean() / 1_000.0);
    }

    private static long micros(long nanos) {
        return TimeUnit.NANOSECONDS.toMicros(nanos);
    }

    private SseLatencyProbe() {
    }
}
