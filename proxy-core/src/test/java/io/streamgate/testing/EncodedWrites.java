package io.streamgate.testing;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What an encoder puts on the wire for a list of messages, each written and flushed alone: the bytes, and how many
 * buffers each message became.
 */
public final class EncodedWrites {
    private final StringBuilder wire = new StringBuilder();
    private final List<Integer> buffersPerMessage = new ArrayList<>();
    private final List<ChannelFuture> writes = new ArrayList<>();

    private EncodedWrites() {
    }

    public static EncodedWrites of(ChannelHandler encoder, List<Object> messages) {
        EmbeddedChannel ch = new EmbeddedChannel(encoder);
        EncodedWrites w = new EncodedWrites();
        for (Object msg : messages) {
            w.writes.add(ch.writeOneOutbound(msg));
            ch.flushOutbound();
            int buffers = 0;
            ByteBuf b;
            while ((b = ch.readOutbound()) != null) {
                w.wire.append(b.toString(StandardCharsets.US_ASCII));
                b.release();
                buffers++;
            }
            w.buffersPerMessage.add(buffers);
        }
        ch.finishAndReleaseAll();
        return w;
    }

    public String text() {
        return wire.toString();
    }

    public List<Integer> buffersPerMessage() {
        return buffersPerMessage;
    }

    /** The outcome of each message's write, in order. */
    public List<ChannelFuture> writes() {
        return writes;
    }
}
