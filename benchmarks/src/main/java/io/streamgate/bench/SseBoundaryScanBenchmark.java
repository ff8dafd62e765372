package io.streamgate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.ByteProcessor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Finding SSE event boundaries ("\n\n") in a received buffer: the scan a relay needs for heartbeats at event
 * boundaries, token counting or a cache tee. Three ways: ByteBuf.indexOf for '\n' then a look at the next byte;
 * one forEachByte pass with a two-byte state machine; ByteBufUtil.indexOf with a two-byte needle.
 *
 * <p>{@code chunk}: "one" is one ~190 B chat.completion.chunk event (the common case: one token per read);
 * "read16k" is a 16 KiB read holding many events (a fast backend, or a client that fell behind).
 * All return the number of boundaries found, so every variant does the same work.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SseBoundaryScanBenchmark {
    private static final String EVENT = "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\","
            + "\"created\":1700000000,\"model\":\"bench\",\"choices\":[{\"index\":0,"
            + "\"delta\":{\"content\":\" token\"},\"finish_reason\":null}]}\n\n";
    private static final ByteBuf NEEDLE = Unpooled.unreleasableBuffer(
            Unpooled.wrappedBuffer(new byte[] {'\n', '\n'}));

    @Param({"one", "read16k"})
    public String chunk;

    @Param({"direct", "heap"})
    public String memory;

    private ByteBuf buf;

    @Setup(Level.Trial)
    public void setUp() {
        ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
        byte[] event = EVENT.getBytes(StandardCharsets.US_ASCII);
        int size = chunk.equals("one") ? event.length : 16 * 1024;
        buf = memory.equals("direct") ? alloc.directBuffer(size) : alloc.heapBuffer(size);
        while (buf.writableBytes() >= event.length) {
            buf.writeBytes(event);
        }
        // A partial event at the end, as a real read would have.
        buf.writeBytes(event, 0, buf.writableBytes());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        buf.release();
    }

    @Benchmark
    public int indexOfNewline() {
        ByteBuf b = buf;
        int end = b.writerIndex();
        int from = b.readerIndex();
        int count = 0;
        while (true) {
            int nl = b.indexOf(from, end, (byte) '\n');
            if (nl < 0 || nl + 1 >= end) {
                return count;
            }
            if (b.getByte(nl + 1) == '\n') {
                count++;
                from = nl + 2;
            } else {
                from = nl + 1;
            }
        }
    }

    @Benchmark
    public int forEachByteStateMachine() {
        BoundaryCounter counter = new BoundaryCounter();
        buf.forEachByte(counter);
        return counter.count;
    }

    @Benchmark
    public int byteBufUtilIndexOf() {
        ByteBuf b = buf;
        int end = b.writerIndex();
        int count = 0;
        int from = b.readerIndex();
        while (from < end) {
            int at = ByteBufUtil.indexOf(NEEDLE, b.slice(from, end - from));
            if (at < 0) {
                return count;
            }
            count++;
            from += at + 2;
        }
        return count;
    }

    /** Counts "\n\n" in one pass; a real relay would keep {@code previousWasNewline} across reads. */
    private static final class BoundaryCounter implements ByteProcessor {
        int count;
        private boolean previousWasNewline;

        @Override
        public boolean process(byte value) {
            if (value == '\n') {
                if (previousWasNewline) {
                    count++;
                    previousWasNewline = false;
                } else {
                    previousWasNewline = true;
                }
            } else {
                previousWasNewline = false;
            }
            return true;
        }
    }
}
