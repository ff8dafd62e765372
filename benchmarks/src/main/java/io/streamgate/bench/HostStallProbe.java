package io.streamgate.bench;

import java.io.PrintStream;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Finds the moments a CPU stopped running anything: sleeps a short period again and again and reports each wake-up
 * that came at least a threshold late. Run one per CPU, pinned to it ({@code taskset -c N}).
 *
 * <p>Why: this machine is a virtual one whose host now and then takes a virtual CPU away for ~100 ms at a time
 * (a wake-up of a thread pinned to a busy CPU came 100 ms late about once per 15 s per CPU while two loops kept both
 * CPUs busy, and never while they left a tenth idle). The guest cannot see it: no steal time is reported, the time
 * is charged to whatever ran on that CPU. Every request or event in flight on that CPU waits the whole stall, so one
 * stall in a 10 s run moves a p99; perf.sh counts the stalls in each measured run so that a p99 can be read with
 * them.
 *
 * <p>A sleeper wakes late for the guest's own reasons too, but a thread that mostly sleeps goes ahead of busy ones at
 * wake-up, so it waits long only when its CPU runs nothing of the guest's or the kernel holds it: the ~100 ms waits
 * are the host's; shorter ones, of 20-40 ms, came with a proxy's access log written to disk (docs/performance.md,
 * "Round 16").
 * Costs: one wake-up per period (200 a second at the default 5 ms), a few microseconds each.
 *
 * <p>Prints {@code STALL label=… start_ms=<epoch ms the CPU stopped> ms=<how long>} per stall, as it happens.
 */
public final class HostStallProbe {
    private static final String USAGE = """
            usage: HostStallProbe [--label cpu0] [--period-ms 5] [--threshold-ms 20]
              run pinned to one CPU (taskset -c N); prints a STALL line for every wake-up at least threshold late""";

    private HostStallProbe() {
    }

    public static void main(String[] argv) {
        Args args = new Args(argv, Map.of("label", "cpu", "period-ms", "5", "threshold-ms", "20"), USAGE);
        watch(args.string("label"), TimeUnit.MILLISECONDS.toNanos(args.integer("period-ms")),
                TimeUnit.MILLISECONDS.toNanos(args.integer("threshold-ms")), System.out);
    }

    private static void watch(String label, long periodNanos, long thresholdNanos, PrintStream out) {
        long due = System.nanoTime() + periodNanos;
        while (true) {
            LockSupport.parkNanos(due - System.nanoTime());
            long now = System.nanoTime();
            long late = now - due;
            if (late >= thresholdNanos) {
                long startMillis = System.currentTimeMillis() - TimeUnit.NANOSECONDS.toMillis(late);
                out.println("STALL label=" + label + " start_ms=" + startMillis + " ms="
                        + TimeUnit.NANOSECONDS.toMillis(late));
                out.flush();
            }
            due = now + periodNanos; // from the wake-up, so one stall is reported once, not as a run of late periods
        }
    }
}
