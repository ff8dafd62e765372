package io.streamgate.testing;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;

/**
 * Samples direct memory in the background and keeps the peak above the level at start:
 * - netty: what Netty's shared allocators hold (ByteBufAllocator.DEFAULT, and PooledByteBufAllocator.DEFAULT
 *   when that is another instance);
 * - process: all direct memory of the JVM, the JDK's direct buffer pool plus Netty's cleaner-less allocations.
 * Everything in this JVM counts, the test backend and client included, so they must buffer little themselves.
 */
public final class DirectMemorySampler implements AutoCloseable {
    private static final long MIB = 1024 * 1024;

    private final long baselineNetty = nettyUsed();
    private final long baselineProcess = processUsed();
    private volatile long peakNetty = baselineNetty;
    private volatile long peakProcess = baselineProcess;
    private volatile boolean running = true;
    private final Thread thread;

    private DirectMemorySampler(long intervalMillis) {
        thread = new Thread(() -> {
            while (running) {
                sample();
                try {
                    TimeUnit.MILLISECONDS.sleep(intervalMillis);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "direct-memory-sampler");
        thread.setDaemon(true);
        thread.start();
    }

    public static DirectMemorySampler start(long intervalMillis) {
        return new DirectMemorySampler(intervalMillis);
    }

    private void sample() {
        peakNetty = Math.max(peakNetty, nettyUsed());
        peakProcess = Math.max(peakProcess, processUsed());
    }

    /** Peak growth of Netty's allocators over the level at start, in bytes. */
    public long nettyGrowth() {
        return peakNetty - baselineNetty;
    }

    /** Peak growth of all direct memory over the level at start, in bytes. */
    public long processGrowth() {
        return peakProcess - baselineProcess;
    }

    public String describe() {
        return String.format("netty allocators: baseline %.1f MiB, peak %.1f MiB; all direct memory: baseline %.1f MiB, peak %.1f MiB",
                baselineNetty / (double) MIB, peakNetty / (double) MIB, baselineProcess / (double) MIB, peakProcess / (double) MIB);
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.interrupt();
        thread.join(5_000);
        sample();
    }

    static long nettyUsed() {
        long used = used(ByteBufAllocator.DEFAULT);
        if (PooledByteBufAllocator.DEFAULT != ByteBufAllocator.DEFAULT) {
            used += used(PooledByteBufAllocator.DEFAULT);
        }
        return used;
    }

    private static long used(ByteBufAllocator allocator) {
        return allocator instanceof ByteBufAllocatorMetricProvider provider ? provider.metric().usedDirectMemory() : 0;
    }

    static long processUsed() {
        long jdk = 0;
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals("direct")) {
                jdk += pool.getMemoryUsed();
            }
        }
        // -1 when Netty allocates through the JDK (then the JDK pool above already counts it).
        return jdk + Math.max(0, PlatformDependent.usedDirectMemory());
    }
}
