package io.streamgate.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small HTTP/1.1 backend on a real socket (127.0.0.1, any free port) for testing the proxy against.
 * It records every connection and request, hashes request bodies as they stream in, and hands each request
 * to a {@link Responder} running on its own worker thread, so a responder may block: wait for the test's
 * signal before the next SSE event, sleep through a gap, stay silent, or kill the connection.
 */
public final class TestBackend implements AutoCloseable {

    /** Answers one request; runs on a worker thread, so it may block (always with a bound). */
    @FunctionalInterface
    public interface Responder {
        void respond(BackendExchange exchange) throws Exception;
    }

    private final Responder responder;
    private final Duration closeIdleAfter;
    private final int readChunk;
    private final long readBytesPerSecond;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
            new DefaultThreadFactory("test-backend", true), NioIoHandler.newFactory());
    private final ExecutorService workers = Executors.newCachedThreadPool(new DefaultThreadFactory("backend-worker", true));
    private final AtomicInteger accepted = new AtomicInteger();
    private final List<BackendConnection> connections = new CopyOnWriteArrayList<>();
    private final List<BackendExchange> received = new CopyOnWriteArrayList<>();
    private final BlockingQueue<BackendExchange> untaken = new LinkedBlockingQueue<>();
    private final List<Throwable> failures = new CopyOnWriteArrayList<>();
    private final Channel serverChannel;

    private TestBackend(Builder b) {
        this.responder = b.responder;
        this.closeIdleAfter = b.closeIdleAfter;
        this.readChunk = b.readChunk;
        this.readBytesPerSecond = b.readBytesPerSecond;
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (readBytesPerSecond > 0) {
                            ch.config().setAutoRead(false);
                            ch.config().setRecvByteBufAllocator(new FixedRecvByteBufAllocator(readChunk).maxMessagesPerRead(1));
                            ch.pipeline().addLast(new ReadPacer(readBytesPerSecond));
                        }
                        ch.pipeline().addLast(new HttpServerCodec(64 * 1024, 64 * 1024, 64 * 1024));
                        ch.pipeline().addLast(new ConnectionHandler());
                    }
                });
        try {
            serverChannel = bootstrap.bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IllegalStateException("interrupted while binding the test backend", e);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A backend answering every request 200 with {@code text} (text/plain), once the request body arrived. */
    public static TestBackend answering(String text) {
        return builder().respond(Responders.text(200, text)).start();
    }

    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** The endpoint URL for the proxy's configuration. */
    public String url() {
        return "http://127.0.0.1:" + port();
    }

    public int acceptedConnections() {
        return accepted.get();
    }

    /** Every accepted connection, in accept order. */
    public List<BackendConnection> connections() {
        return List.copyOf(connections);
    }

    /** Every request received so far, in arrival order. */
    public List<BackendExchange> received() {
        return List.copyOf(received);
    }

    /** The oldest request not yet taken; fails if none arrives within 10 s. */
    public BackendExchange takeExchange() throws InterruptedException {
        BackendExchange exchange = untaken.poll(10, TimeUnit.SECONDS);
        if (exchange == null) {
            throw new AssertionError("the backend received no request within 10s");
        }
        return exchange;
    }

    /** Exceptions thrown by responders (a responder whose connection was cut by the proxy throws too). */
    public List<Throwable> failures() {
        return List.copyOf(failures);
    }

    @Override
    public void close() {
        serverChannel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        for (BackendConnection connection : connections) {
            connection.channel().close();
        }
        workers.shutdownNow();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }

    public static final class Builder {
        private Responder responder = Responders.text(200, "ok");
        private Duration closeIdleAfter;
        private int readChunk;
        private long readBytesPerSecond;

        private Builder() {
        }

        public Builder respond(Responder responder) {
            this.responder = responder;
            return this;
        }

        /** Closes a keep-alive connection that got no new request within {@code idle} after a response ended. */
        public Builder closeIdleConnectionsAfter(Duration idle) {
            this.closeIdleAfter = idle;
            return this;
        }

        /** Reads requests at most {@code bytesPerRead} at a time and at most {@code bytesPerSecond} on average. */
        public Builder readSlowly(int bytesPerRead, long bytesPerSecond) {
            this.readChunk = bytesPerRead;
            this.readBytesPerSecond = bytesPerSecond;
            return this;
        }

        public TestBackend start() {
            return new TestBackend(this);
        }
    }

    /** Per connection, on its event loop. */
    private final class ConnectionHandler extends ChannelInboundHandlerAdapter {
        private BackendConnection connection;
        private BackendExchange current;
        private boolean bodyInProgress;
        private ScheduledFuture<?> idleClose;
        /**
         * The responder of this connection's previous request. The next one starts after it returns, as a real HTTP/1.1
         * server answers a connection's requests in order: a HEAD responder still calling end() after its head left
         * must not race the next request's response (the encoder would fail and close the connection).
         */
        private CompletableFuture<Void> responding = CompletableFuture.completedFuture(null);

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            connection = new BackendConnection(accepted.incrementAndGet(), ctx.channel());
            connections.add(connection);
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof HttpRequest request) {
                    requestStarted(ctx, request);
                }
                if (msg instanceof HttpContent content && bodyInProgress) {
                    current.bodyPart(content.content());
                    if (msg instanceof LastHttpContent) {
                        bodyInProgress = false;
                        current.bodyEnded();
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void requestStarted(ChannelHandlerContext ctx, HttpRequest request) {
            cancelIdleClose();
            if (request.decoderResult().isFailure()) {
                failures.add(new IllegalStateException("backend could not decode a request from the proxy",
                        request.decoderResult().cause()));
                ctx.close();
                return;
            }
            connection.requestArrived();
            BackendExchange exchange = new BackendExchange(request.method().name(), request.uri(),
                    new DefaultHttpHeaders().add(request.headers()), HttpUtil.isKeepAlive(request), connection,
                    () -> ctx.executor().execute(() -> scheduleIdleClose(ctx)));
            current = exchange;
            bodyInProgress = true;
            received.add(exchange);
            untaken.add(exchange);
            responding = responding.thenRunAsync(() -> respond(exchange), workers);
        }

        private void respond(BackendExchange exchange) {
            try {
                responder.respond(exchange);
            } catch (InterruptedException e) {
                // The backend is closing.
                exchange.connection().channel().close();
            } catch (Throwable t) {
                failures.add(t);
                exchange.connection().channel().close();
            }
        }

        private void scheduleIdleClose(ChannelHandlerContext ctx) {
            if (closeIdleAfter != null && ctx.channel().isActive()) {
                cancelIdleClose();
                idleClose = ctx.executor().schedule(() -> ctx.close(), closeIdleAfter.toNanos(), TimeUnit.NANOSECONDS);
            }
        }

        private void cancelIdleClose() {
            if (idleClose != null) {
                idleClose.cancel(false);
                idleClose = null;
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            cancelIdleClose();
            if (bodyInProgress) {
                current.connectionLost();
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // Resets and broken pipes are part of what these tests provoke; the connection is simply gone.
            ctx.close();
        }
    }

    /** Paces reads to a byte rate, for a backend that consumes request bodies slowly. Needs autoRead off. */
    private static final class ReadPacer extends ChannelDuplexHandler {
        private final long bytesPerSecond;
        private long startNanos;
        private long bytes;
        private boolean readScheduled;

        ReadPacer(long bytesPerSecond) {
            this.bytesPerSecond = bytesPerSecond;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            startNanos = System.nanoTime();
            ctx.fireChannelActive();
            read(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf buf) {
                bytes += buf.readableBytes();
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.fireChannelReadComplete();
            read(ctx);
        }

        /** Every read request, ours or the decoder's, waits until the byte budget allows it. */
        @Override
        public void read(ChannelHandlerContext ctx) {
            if (readScheduled) {
                return;
            }
            readScheduled = true;
            long dueNanos = startNanos + bytes * 1_000_000_000L / bytesPerSecond;
            long delay = Math.max(0, dueNanos - System.nanoTime());
            ctx.executor().schedule(() -> {
                readScheduled = false;
                ctx.read();
            }, delay, TimeUnit.NANOSECONDS);
        }
    }
}
