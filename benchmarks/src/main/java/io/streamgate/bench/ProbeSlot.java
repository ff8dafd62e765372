package io.streamgate.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One of the C concurrent streams: keeps a connection open and streaming until the deadline, reconnecting
 * (after a short pause, so a dead target is not hammered) when a connection fails. In fixed mode the slot's one
 * connection runs one stream and the slot is done when it ends, whether it completed or failed.
 */
final class ProbeSlot {
    private static final long RETRY_DELAY_MS = 100;

    private final ProbeRun run;
    private final Bootstrap bootstrap;
    private final EventLoopGroup group;
    private final AtomicBoolean done = new AtomicBoolean();

    ProbeSlot(ProbeRun run, Bootstrap bootstrap, EventLoopGroup group) {
        this.run = run;
        this.bootstrap = bootstrap;
        this.group = group;
    }

    void connect() {
        ProbeSlot slot = this;
        bootstrap.clone()
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpClientCodec(), new ProbeConnectionHandler(run, slot));
                    }
                })
                .connect(run.url().getHost(), run.url().getPort())
                .addListener(f -> {
                    if (!f.isSuccess()) {
                        failedToOpen();
                    }
                });
    }

    /** The connection (or, over HTTP/2, the stream) could not be opened. */
    void failedToOpen() {
        run.error();
        connectionEnded(true);
    }

    /** Called once per connection, from its event loop, when it is closed (or failed to open). */
    void connectionEnded(boolean failed) {
        if (run.fixed() || run.pastDeadline(System.nanoTime())) {
            if (done.compareAndSet(false, true)) {
                run.slotDone();
            }
        } else if (failed) {
            group.schedule(this::connect, RETRY_DELAY_MS, TimeUnit.MILLISECONDS);
        } else {
            connect();
        }
    }
}
