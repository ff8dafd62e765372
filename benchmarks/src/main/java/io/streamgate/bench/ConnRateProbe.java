package io.streamgate.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

import javax.net.ssl.SSLSession;
import java.net.URI;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * New connections per second: C slots each open a connection, send one {@code GET} with {@code Connection: close},
 * read the whole response and close, then start over at once, until the duration is over. Over {@code https://}
 * every connection is a <b>full</b> TLS handshake: the client (BoringSSL through netty-tcnative when it loads, else
 * the JDK) keeps no session cache, so nothing is resumed — unlike wrk, which resumes its TLS sessions. The server
 * certificate is not verified (a benchmark certificate is self-signed).
 *
 * <p>Connections that finish inside [warm-up end, deadline) are counted, and the time from the connect call to the
 * end of the response goes into a histogram. Prints one line on stdout:
 * {@code CONN_RESULT label=.. concurrency=.. connections=.. conn_per_s=.. errors=.. complete=.. p50_us=.. p99_us=..
 * max_us=.. connections_total=.. cpu_ms=.. tls=<protocol>/<cipher> provider=..} ({@code tls=-} over plain HTTP):
 * {@code connections_total} counts the warm-up too (what a server-side CPU figure should be divided by),
 * {@code cpu_ms} is the CPU time of this probe process.
 */
public final class ConnRateProbe {
    private static final String USAGE = "ConnRateProbe --url https://127.0.0.1:18085/json [--concurrency 64]"
            + " [--duration-s 10] [--warmup-s 2] [--threads 1] [--transport auto|epoll|io_uring|nio] [--label probe]";
    private static final long RETRY_DELAY_MS = 10;

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv, Map.of(
                "url", "https://127.0.0.1:18085/json",
                "concurrency", "64",
                "duration-s", "10",
                "warmup-s", "2",
                "threads", "1",
                "transport", "auto",
                "label", "probe"), USAGE);
        URI url = URI.create(args.string("url"));
        boolean tls = "https".equalsIgnoreCase(url.getScheme());
        int port = url.getPort() > 0 ? url.getPort() : tls ? 443 : 80;
        int concurrency = args.integer("concurrency");
        SslProvider provider = OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
        SslContext ssl = tls ? SslContextBuilder.forClient()
                .sslProvider(provider)
                .trustManager(InsecureTrustManagerFactory.INSTANCE)
                .build() : null;

        long start = System.nanoTime();
        long measureFrom = start + TimeUnit.SECONDS.toNanos(args.integer("warmup-s"));
        long deadline = measureFrom + TimeUnit.SECONDS.toNanos(args.integer("duration-s"));
        Run run = new Run(url, port, ssl, measureFrom, deadline, concurrency);

        Transport transport = Transport.select(args.string("transport"));
        EventLoopGroup group = transport.newGroup(args.integer("threads"));
        try {
            Bootstrap bootstrap = transport.clientBootstrap(group);
            for (int i = 0; i < concurrency; i++) {
                new Slot(run, bootstrap, group).connect();
            }
            boolean allDone = run.slotsDone.await(deadline - System.nanoTime() + TimeUnit.SECONDS.toNanos(30),
                    TimeUnit.NANOSECONDS);
            double seconds = (deadline - measureFrom) / 1e9;
            Histogram h = run.latencies;
            String session = run.session.get();
            System.out.println(String.format(Locale.ROOT,
                    "CONN_RESULT label=%s concurrency=%d connections=%d conn_per_s=%.0f errors=%d complete=%s"
                            + " p50_us=%d p99_us=%d max_us=%d connections_total=%d cpu_ms=%d tls=%s provider=%s",
                    args.string("label"), concurrency, h.getTotalCount(), h.getTotalCount() / seconds,
                    run.errors.get(), allDone, ProbeTime.micros(h.getValueAtPercentile(50)),
                    ProbeTime.micros(h.getValueAtPercentile(99)), ProbeTime.micros(h.getMaxValue()), run.total.get(),
                    ProbeTime.processCpuMillis(), session == null ? "-" : session,
                    tls ? provider.name().toLowerCase(Locale.ROOT) : "-"));
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** What all slots share. */
    private static final class Run {
        final URI url;
        final int port;
        final SslContext ssl;
        final long measureFrom;
        final long deadline;
        final String pathAndQuery;
        final String hostHeader;
        final Histogram latencies = new ConcurrentHistogram(TimeUnit.MINUTES.toNanos(1), 3);
        final AtomicLong errors = new AtomicLong();
        /** Successful connections, warm-up included. */
        final AtomicLong total = new AtomicLong();
        /** Protocol and cipher of the first handshake, for the report. */
        final AtomicReference<String> session = new AtomicReference<>();
        final CountDownLatch slotsDone;

        Run(URI url, int port, SslContext ssl, long measureFrom, long deadline, int concurrency) {
            this.url = url;
            this.port = port;
            this.ssl = ssl;
            this.measureFrom = measureFrom;
            this.deadline = deadline;
            this.pathAndQuery = (url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath())
                    + (url.getRawQuery() == null ? "" : "?" + url.getRawQuery());
            this.hostHeader = url.getHost() + ":" + port;
            this.slotsDone = new CountDownLatch(concurrency);
        }

        void connectionDone(long startedAt, long endedAt) {
            total.incrementAndGet();
            if (endedAt - measureFrom >= 0 && endedAt - deadline < 0) {
                latencies.recordValue(Math.min(endedAt - startedAt, latencies.getHighestTrackableValue()));
            }
        }

        void error(long at) {
            if (at - measureFrom >= 0 && at - deadline < 0) {
                errors.incrementAndGet();
            }
        }
    }

    /** One of the C concurrent connection loops. */
    private static final class Slot {
        private final Run run;
        private final Bootstrap bootstrap;
        private final EventLoopGroup group;

        Slot(Run run, Bootstrap bootstrap, EventLoopGroup group) {
            this.run = run;
            this.bootstrap = bootstrap;
            this.group = group;
        }

        void connect() {
            long startedAt = System.nanoTime();
            if (startedAt - run.deadline >= 0) {
                run.slotsDone.countDown();
                return;
            }
            Slot slot = this;
            bootstrap.clone()
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            if (run.ssl != null) {
                                // No peer host and port: the engine is not tied to a session cache entry, so
                                // every connection makes a full handshake.
                                ch.pipeline().addLast(run.ssl.newHandler(ch.alloc()));
                            }
                            ch.pipeline().addLast(new HttpClientCodec(), new Exchange(slot, startedAt));
                        }
                    })
                    .connect(run.url.getHost(), run.port)
                    .addListener(f -> {
                        if (!f.isSuccess()) {
                            ended(false, startedAt);
                        }
                    });
        }

        /** Called once per connection, from its event loop. */
        void ended(boolean ok, long startedAt) {
            long now = System.nanoTime();
            if (ok) {
                run.connectionDone(startedAt, now);
                connect();
            } else {
                run.error(now);
                group.schedule(this::connect, RETRY_DELAY_MS, TimeUnit.MILLISECONDS);
            }
        }
    }

    /** One request with Connection: close on one connection. */
    private static final class Exchange extends SimpleChannelInboundHandler<HttpObject> {
        private final Slot slot;
        private final long startedAt;
        private boolean ok;
        private boolean reported;

        Exchange(Slot slot, long startedAt) {
            this.slot = slot;
            this.startedAt = startedAt;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET,
                    slot.run.pathAndQuery, Unpooled.EMPTY_BUFFER);
            request.headers()
                    .set(HttpHeaderNames.HOST, slot.run.hostHeader)
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            // The SslHandler holds the request until the handshake is done.
            ctx.writeAndFlush(request);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg.decoderResult().isFailure()
                    || msg instanceof HttpResponse response && response.status().code() != 200) {
                ctx.close();
                return;
            }
            if (msg instanceof LastHttpContent) {
                ok = true;
                if (slot.run.session.get() == null) {
                    SslHandler ssl = ctx.pipeline().get(SslHandler.class);
                    if (ssl != null) {
                        SSLSession s = ssl.engine().getSession();
                        slot.run.session.compareAndSet(null, s.getProtocol() + "/" + s.getCipherSuite());
                    }
                }
                // Counted when the response is complete; the server closes, and so do we.
                report(true);
                ctx.close();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            report(ok);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // resets, handshake failures: channelInactive reports the connection as failed
        }

        private void report(boolean success) {
            if (!reported) {
                reported = true;
                slot.ended(success, startedAt);
            }
        }
    }

    private ConnRateProbe() {
    }
}
