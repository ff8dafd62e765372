package io.streamgate.http2;

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
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
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
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A step-by-step h2c client: open a stream, send DATA later, reset it, close the connection. Public for tests outside
 * this package that mix HTTP/2 streams into other traffic.
 */
public final class H2Probe implements AutoCloseable {
    public record Outcome(int status, Http2Headers headers, String body, Http2Headers trailers, long resetCode, boolean goAway,
                   List<Integer> informational) {
        @Override
        public String toString() {
            return "status=" + status + " reset=" + resetCode + " goAway=" + goAway + " headers=" + headers + " body=" + body
                    + " trailers=" + trailers + " 1xx=" + informational;
        }
    }

    public final class Stream {
        Http2FrameStream frameStream;
        public final CompletableFuture<Outcome> outcome = new CompletableFuture<>();
        public final ByteArrayOutputStream body = new ByteArrayOutputStream();
        /** The code of a RST_STREAM from the server, also one after the response was complete (which outcome misses). */
        public final CompletableFuture<Long> reset = new CompletableFuture<>();
        final List<Integer> informational = new ArrayList<>();
        volatile Http2Headers headers;
        volatile Http2Headers trailers;
        volatile int status = -1;

        void finish(long reset, boolean goAway) {
            outcome.complete(new Outcome(status, headers, body.toString(StandardCharsets.UTF_8), trailers, reset, goAway,
                    informational));
        }
    }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("h2-probe", true),
            NioIoHandler.newFactory());
    public final Channel channel;
    private final Handler handler = new Handler();
    private final Map<Integer, Stream> streams = new ConcurrentHashMap<>();
    private final List<Stream> all = new ArrayList<>();
    private final boolean returnCredit;
    volatile boolean goAwaySeen;

    public H2Probe(int port, boolean returnCredit) throws InterruptedException {
        this.returnCredit = returnCredit;
        Http2FrameCodec codec = Http2FrameCodecBuilder.forClient().initialSettings(Http2Settings.defaultSettings())
                .validateHeaders(false).build();
        channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(codec, handler);
                    }
                })
                .connect(new InetSocketAddress("127.0.0.1", port)).sync().channel();
        channel.closeFuture().addListener(f -> {
            synchronized (all) {
                all.forEach(s -> s.finish(-1, false));
            }
        });
    }

    public static Http2Headers headers(String method, String path, String... pairs) {
        Http2Headers h = new DefaultHttp2Headers(false);
        h.method(method).path(path).scheme("http").authority("localhost");
        for (int i = 0; i < pairs.length; i += 2) {
            h.add(pairs[i], pairs[i + 1]);
        }
        return h;
    }

    private <T> T onLoop(java.util.concurrent.Callable<T> task) throws Exception {
        return channel.eventLoop().submit(task).get(5, TimeUnit.SECONDS);
    }

    public Stream open(Http2Headers headers, boolean endStream) throws Exception {
        Stream s = new Stream();
        synchronized (all) {
            all.add(s);
        }
        CompletableFuture<Void> sent = new CompletableFuture<>();
        onLoop(() -> {
            s.frameStream = handler.newStream();
            channel.writeAndFlush(new DefaultHttp2HeadersFrame(headers, endStream).stream(s.frameStream)).addListener(f -> {
                if (f.isSuccess()) {
                    streams.put(s.frameStream.id(), s);
                    sent.complete(null);
                } else {
                    sent.completeExceptionally(f.cause());
                }
            });
            return null;
        });
        sent.get(5, TimeUnit.SECONDS);
        return s;
    }

    /** Sends DATA; the returned future completes when the frame left (flow control may hold it). */
    CompletableFuture<Void> data(Stream s, byte[] bytes, boolean end) throws Exception {
        return send(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(bytes), end).stream(s.frameStream));
    }

    public CompletableFuture<Void> data(Stream s, String text, boolean end) throws Exception {
        return data(s, text.getBytes(StandardCharsets.UTF_8), end);
    }

    void trailers(Stream s, Http2Headers trailers) throws Exception {
        onLoop(() -> channel.writeAndFlush(new DefaultHttp2HeadersFrame(trailers, true).stream(s.frameStream)));
    }

    /** Sends an extension frame of an unknown type (receivers must ignore it) on the stream. */
    CompletableFuture<Void> unknown(Stream s, byte[] payload) throws Exception {
        return send(new io.netty.handler.codec.http2.DefaultHttp2UnknownFrame((byte) 0x21,
                new io.netty.handler.codec.http2.Http2Flags(), Unpooled.wrappedBuffer(payload)).stream(s.frameStream));
    }

    /** Writes {@code frame} on the client's loop; the future completes when it left. */
    private CompletableFuture<Void> send(Object frame) throws Exception {
        CompletableFuture<Void> sent = new CompletableFuture<>();
        onLoop(() -> {
            channel.writeAndFlush(frame).addListener(f -> {
                if (f.isSuccess()) {
                    sent.complete(null);
                } else {
                    sent.completeExceptionally(f.cause());
                }
            });
            return null;
        });
        return sent;
    }

    public void reset(Stream s) throws Exception {
        onLoop(() -> channel.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL).stream(s.frameStream)));
    }

    /** Returns {@code bytes} of connection-level credit (window update on stream 0). */
    void connectionCredit(int bytes) throws Exception {
        onLoop(() -> channel.writeAndFlush(new DefaultHttp2WindowUpdateFrame(bytes)));
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }

    private final class Handler extends Http2ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2GoAwayFrame) {
                    goAwaySeen = true; // streams at or below its last id go on
                } else if (msg instanceof Http2HeadersFrame h) {
                    Stream s = streams.get(h.stream().id());
                    if (s == null) {
                        return;
                    }
                    CharSequence status = h.headers().status();
                    if (status != null && status.charAt(0) == '1') {
                        s.informational.add(Integer.parseInt(status.toString()));
                    } else if (status != null) {
                        s.status = Integer.parseInt(status.toString());
                        s.headers = h.headers();
                    } else {
                        s.trailers = h.headers();
                    }
                    if (h.isEndStream()) {
                        s.finish(-1, false);
                    }
                } else if (msg instanceof Http2DataFrame d) {
                    Stream s = streams.get(d.stream().id());
                    if (s == null) {
                        return;
                    }
                    s.body.writeBytes(ByteBufUtil.getBytes(d.content()));
                    if (returnCredit && d.initialFlowControlledBytes() > 0) {
                        ctx.writeAndFlush(new DefaultHttp2WindowUpdateFrame(d.initialFlowControlledBytes()).stream(d.stream()));
                    }
                    if (d.isEndStream()) {
                        s.finish(-1, false);
                    }
                } else if (msg instanceof Http2ResetFrame r) {
                    Stream s = streams.get(r.stream().id());
                    if (s != null) {
                        s.reset.complete(r.errorCode());
                        s.finish(r.errorCode(), false);
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
