package io.streamgate.testing;

import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class when Netty reported a buffer leak while it ran. Auto-registered for every test class
 * (META-INF/services/org.junit.jupiter.api.extension.Extension plus extension autodetection in
 * junit-platform.properties); it runs after the class's own {@code @AfterAll} methods.
 */
public final class LeakCheckExtension implements AfterAllCallback {
    private static final int GC_ROUNDS = 5;

    @Override
    public void afterAll(ExtensionContext context) {
        if (!LeakRecorder.isInstalled()) {
            fail("LeakRecorder is not installed: LeakRecorderInstaller did not run, so leaks would go unnoticed");
        }
        flushPendingReports();
        List<String> reports = LeakRecorder.reports();
        LeakRecorder.clear();
        if (!reports.isEmpty()) {
            fail(reports.size() + " Netty leak report(s) while running " + context.getDisplayName()
                    + " (a leak may also come from an earlier class):\n" + String.join("\n\n", reports));
        }
    }

    /**
     * Netty only looks for collected-but-unreleased buffers when it tracks a new one, so collect garbage and
     * then allocate through every kind of allocator to make the detectors drain their reference queues.
     */
    public static void flushPendingReports() {
        for (int round = 0; round < GC_ROUNDS; round++) {
            System.gc();
            try {
                // Give the reference handler thread a moment to enqueue the collected buffers.
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            allocateAndRelease();
        }
    }

    private static void allocateAndRelease() {
        ByteBufAllocator[] allocators = {
            ByteBufAllocator.DEFAULT, PooledByteBufAllocator.DEFAULT, UnpooledByteBufAllocator.DEFAULT
        };
        for (ByteBufAllocator allocator : allocators) {
            release(allocator.heapBuffer(64));
            release(allocator.directBuffer(64));
            release(allocator.buffer(64));
        }
        release(Unpooled.buffer(64));
        release(Unpooled.directBuffer(64));
    }

    private static void release(ByteBuf buf) {
        buf.writeByte(1);
        buf.release();
    }
}
