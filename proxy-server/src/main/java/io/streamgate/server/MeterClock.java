package io.streamgate.server;

import io.micrometer.core.instrument.Clock;

/**
 * Micrometer's clock for the gateway's registry: the wall time from a field that one daemon thread refreshes every
 * {@value #TICK_MILLIS} ms, the monotonic time from {@link System#nanoTime()}. Micrometer reads the wall time on every
 * timer record, twice (the maximum and the histogram each check whether their time window has to rotate), so the two
 * timers of a proxied request cost four clock reads: 0.6 % of the typical profile's CPU on this project's benchmark
 * host (benchmarks/load/profile.sh, round 20). The windows those reads serve are 40 s and longer; one that rotates up
 * to {@value #TICK_MILLIS} ms late changes nothing a scrape shows. nginx reads its clock once per pass of its event
 * loop for the same reason.
 */
final class MeterClock implements Clock {
    static final long TICK_MILLIS = 100;
    private static final MeterClock INSTANCE = new MeterClock();

    private volatile long wallMillis = System.currentTimeMillis();

    private MeterClock() {
        Thread ticker = new Thread(this::tick, "streamgate-meter-clock");
        ticker.setDaemon(true); // the process's lifetime: one per JVM, however many gateways it starts
        ticker.start();
    }

    /** The one clock (and its thread) of this JVM. */
    static MeterClock instance() {
        return INSTANCE;
    }

    @Override
    public long wallTime() {
        return wallMillis;
    }

    @Override
    public long monotonicTime() {
        return System.nanoTime();
    }

    private void tick() {
        while (true) {
            try {
                Thread.sleep(TICK_MILLIS);
            } catch (InterruptedException e) {
                return; // nothing interrupts it on purpose; the field keeps its last value
            }
            wallMillis = System.currentTimeMillis();
        }
    }
}
