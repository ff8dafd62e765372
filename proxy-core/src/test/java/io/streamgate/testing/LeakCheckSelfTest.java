package io.streamgate.testing;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Proves the leak check can see a leak: without this, a silent leak check would look like a clean run. */
class LeakCheckSelfTest {

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aDeliberatelyLeakedBufferIsReported() {
        assertTrue(LeakRecorder.isInstalled(), "LeakRecorderInstaller did not run before the tests");
        assertTrue(ResourceLeakDetector.getLevel() == ResourceLeakDetector.Level.PARANOID,
                "leak detection level is " + ResourceLeakDetector.getLevel());

        String marker = "deliberate-leak-" + UUID.randomUUID();
        leakOneBuffer(marker);

        List<String> matching = List.of();
        for (int attempt = 0; attempt < 50 && matching.isEmpty(); attempt++) {
            LeakCheckExtension.flushPendingReports();
            matching = LeakRecorder.reports().stream().filter(r -> r.contains(marker)).toList();
        }
        // Whatever happens, this class must not fail the leak check for the leak it made on purpose.
        LeakRecorder.clear();
        assertTrue(!matching.isEmpty(), "the deliberately leaked buffer was never reported");
    }

    @Test
    void onlyAReceiveBufferThatNeverReachedAPipelineIsLeftToTheTransport() {
        String created = """
                Created at:
                	io.netty.buffer.AdaptiveByteBufAllocator.newDirectBuffer(AdaptiveByteBufAllocator.java:67)
                	io.netty.channel.uring.IoUringRecvByteAllocatorHandle.allocate(IoUringRecvByteAllocatorHandle.java:57)
                	io.netty.channel.uring.AbstractIoUringStreamChannel$IoUringStreamUnsafe.scheduleRead0(AbstractIoUringStreamChannel.java:444)
                """;
        assertTrue(LeakRecorder.transportOwned("\nRecent access records: \n" + created));
        String delivered = "\nRecent access records: \n#1:\n\tHint: 'DefaultChannelPipeline$HeadContext#0' will handle the"
                + " message from this point.\n\tio.netty.channel.DefaultChannelPipeline.touch(DefaultChannelPipeline.java:116)\n";
        assertFalse(LeakRecorder.transportOwned(delivered + created), "a buffer a pipeline saw is ours to release");
        assertFalse(LeakRecorder.transportOwned("\nRecent access records: \nCreated at:\n\tio.netty.buffer.Unpooled.buffer\n"),
                "any other untouched buffer still counts");
    }

    /** A separate method so no live reference to the buffer survives on this test's stack frame. */
    private static void leakOneBuffer(String marker) {
        ByteBuf leaked = ByteBufAllocator.DEFAULT.directBuffer(32);
        leaked.writeLong(42);
        leaked.touch(marker);
    }
}
