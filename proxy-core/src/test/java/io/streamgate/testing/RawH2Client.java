package io.streamgate.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Frame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A cleartext HTTP/2 client (prior knowledge) that sends header blocks exactly as given, unvalidated: forbidden
 * connection headers, CR/LF in values, upper-case names, a content-length the DATA frames contradict. Each
 * request's outcome is what the server did with that stream: a response, a RST_STREAM, or a GOAWAY.
 */
public final class RawH2Client implements AutoCloseable {
    /** What became of one stream. {@code status} -1 without a response; {@code resetCode} -1 without RST_STREAM. */
    public record Outcome(int status, Http2Headers headers, String body, long resetCode, boolean goAway) {
        public boolean answered() {
            return status > 0;
        }

        /** The server visibly acted on the stream: a response, a RST_STREAM, or a GOAWAY. */
        public boolean serverActed() {
            return answered() || resetCode >= 0 || goAway;
        }

        @Override
        public String toString() {
            return answered() ? status + " " + headers + " body=" + body
                    : resetCode >= 0 ? "RST_STREAM(" + resetCode + ")" : goAway ? "GOAWAY" : "connection closed";
        }
    }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("raw-h2-client", true),
            NioIoHandler.newFactory());
    private final Channel channel;
    private final FrameHandler frames = new FrameHandler();
    private final Map<Integer, StreamState> streams = new ConcurrentHashMap<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    private RawH2Client(int port) throws InterruptedException {
        Http2FrameCodec codec = Http2FrameCodecBuilder.forClient()
                .initialSettings(Http2Settings.defaultSettings())
                .validateHeaders(false)
                .build();
        channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(codec, frames);
                    }
                })
                .connect(new InetSocketAddress("127.0.0.1", port)).sync().channel();
        channel.closeFuture().addListener(f -> {
            closed.complete(null);
            streams.values().forEach(s -> s.finish(-1, -1, false));
        });
    }

    public static RawH2Client connect(int port) throws InterruptedException {
        return new RawH2Client(port);
    }

    /** Headers without any validation, for building hostile header blocks. */
    public static Http2Headers headers(String method, String path, String authority) {
        Http2Headers headers = new DefaultHttp2Headers(false);
        headers.method(method).path(path).scheme("http").authority(authority);
        return headers;
    }

    /** Sends {@code headers} (and {@code body} as one DATA frame when not null) on a new stream; waits up to 10 s. */
    public Outcome exchange(Http2Headers headers, String body) throws InterruptedException, ExecutionException, TimeoutException {
        CompletableFuture<Outcome> outcome = new CompletableFuture<>();
        channel.eventLoop().execute(() -> {
            Http2FrameStream stream = frames.newStream();
            StreamState state = new StreamState(outcome);
            channel.write(new DefaultHttp2HeadersFrame(headers, body == null).stream(stream)).addListener(f -> {
                if (f.isSuccess()) {
                    streams.put(stream.id(), state);
                } else {
                    // The test's own request could not be sent: that must not pass for a refusal by the server.
                    outcome.completeExceptionally(new java.io.IOException("the client could not send the request", f.cause()));
                }
            });
            if (body != null) {
                channel.write(new DefaultHttp2DataFrame(Unpooled.copiedBuffer(body, java.nio.charset.StandardCharsets.UTF_8), true)
                        .stream(stream));
            }
            channel.flush();
        });
        return outcome.get(10, TimeUnit.SECONDS);
    }

    public boolean isOpen() {
        return channel.isActive();
    }

    /** Waits up to {@code millis} for the server to close the connection. */
    public boolean awaitClosed(long millis) throws InterruptedException, ExecutionException {
        try {
            closed.get(millis, TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        }
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }

    private static final class StreamState {
        private final CompletableFuture<Outcome> outcome;
        private final ByteArrayOutputStream body = new ByteArrayOutputStream();
        private Http2Headers headers;
        private int status = -1;

        StreamState(CompletableFuture<Outcome> outcome) {
            this.outcome = outcome;
        }

        void finish(int status, long resetCode, boolean goAway) {
            outcome.complete(new Outcome(status, headers, body.toString(java.nio.charset.StandardCharsets.UTF_8), resetCode, goAway));
        }
    }

    /** Collects each stream's frames; a duplex handler after the codec, as only such a handler may open streams. */
    private final class FrameHandler extends Http2ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2Frame frame) {
                    onFrame(ctx, frame);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void onFrame(ChannelHandlerContext ctx, Http2Frame frame) {
            if (frame instanceof Http2GoAwayFrame) {
                streams.values().forEach(s -> s.finish(s.status, -1, true));
                return;
            }
            StreamState state;
            if (frame instanceof Http2HeadersFrame headersFrame) {
                state = streams.get(headersFrame.stream().id());
                if (state == null) {
                    return;
                }
                CharSequence status = headersFrame.headers().status();
                if (status != null && status.charAt(0) != '1') {
                    state.status = Integer.parseInt(status.toString());
                    state.headers = headersFrame.headers();
                }
                if (headersFrame.isEndStream()) {
                    state.finish(state.status, -1, false);
                }
            } else if (frame instanceof Http2DataFrame data) {
                state = streams.get(data.stream().id());
                if (state == null) {
                    return;
                }
                state.body.writeBytes(ByteBufUtil.getBytes(data.content()));
                // Return the flow-control credit, or a long body would stall.
                ctx.write(new io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame(data.initialFlowControlledBytes())
                        .stream(data.stream()));
                ctx.flush();
                if (data.isEndStream()) {
                    state.finish(state.status, -1, false);
                }
            } else if (frame instanceof Http2ResetFrame reset) {
                state = streams.get(reset.stream().id());
                if (state != null) {
                    state.finish(state.status, reset.errorCode(), false);
                }
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
