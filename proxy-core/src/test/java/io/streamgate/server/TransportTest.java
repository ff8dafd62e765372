package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.uring.IoUring;
import io.streamgate.config.ServerConfig.TransportChoice;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class TransportTest {

    @Test
    void ioUringLoopsGetACompletionQueueForThousandsOfStreams() throws Exception {
        // Netty's 4,096 overflowed at 10,000 streams on two loops (docs/performance.md, round 8).
        assertEquals(32_768, Transport.ioUringConfig().getCqSize());
        assumeTrue(IoUring.isAvailable(), "io_uring is not available here");
        // The kernel accepts a ring of that size: the loop starts and runs a task.
        EventLoopGroup group = Transport.select(TransportChoice.IO_URING).newGroup(1);
        try {
            assertEquals("ran", group.submit(() -> "ran").get(10, TimeUnit.SECONDS));
        } finally {
            assertTrue(group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS));
        }
    }
}
