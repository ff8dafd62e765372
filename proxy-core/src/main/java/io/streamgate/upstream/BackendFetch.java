package io.streamgate.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpContentException;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLHandshakeException;

/**
 * A one-shot HTTP/1.1 GET for background work (health checks, metrics scrapes, model lists), kept apart from the
 * upstream pools so that a slow scrape never holds a connection that traffic could use. Each fetch opens its own
 * connection and closes it when the promise completes, whichever way: success, failure, timeout or cancellation.
 */
public final class BackendFetch {
    /** Status and body of a response. */
    public record Response(int status, byte[] body) {
    }

    private BackendFetch() {
    }

    /**
     * Fetches {@code path} from {@code host:port}. Never blocks (the connect runs on {@code loop}, and the address is
     * resolved by the template's resolver: Netty's default one looks DNS names up on the loop, so pass literal
     * addresses or a template with a non-blocking resolver such as {@link OffLoopResolver}, as the gateway's is).
     *
     * @param bootstrapTemplate a Bootstrap with its channel class set (e.g. from Transport); the fetch clones it onto
     *                          {@code loop}, so the template is never changed
     * @param ssl               null for http, else a client context; its handler goes first in the pipeline
     * @param serverName        SNI and the name the certificate is checked against (ignored when {@code ssl} is null)
     * @param headers           added after Host and Connection, so they may replace them
     * @param timeout           bounds the whole fetch, connect and response together
     * @param maxBodyBytes      a longer body fails the fetch with an IOException
     * @return completes on {@code loop} with the response (any status), or fails: ConnectException, TimeoutException,
     *         SSLException, IOException
     * @throws IllegalStateException at once if the template has no channel class
     */
    public static Future<Response> get(EventLoop loop, Bootstrap bootstrapTemplate, SslContext ssl, String serverName,
                                       String host, int port, String path, Map<String, String> headers,
                                       Duration timeout, int maxBodyBytes) {
        Promise<Response> promise = loop.newPromise();
        Fetch fetch = new Fetch(promise, host, port, path, headers, maxBodyBytes);
        Bootstrap bootstrap = bootstrapTemplate.clone(loop)
                // Pool templates turn auto-read off to control backpressure; a fetch simply reads its one response.
                .option(ChannelOption.AUTO_READ, true)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (ssl != null) {
                            SslHandler tls = ssl.newHandler(ch.alloc(), serverName, port);
                            tls.handshakeFuture().addListener(f -> {
                                if (!f.isSuccess()) {
                                    promise.tryFailure(fetch.handshakeFailure(serverName, f.cause()));
                                }
                            });
                            ch.pipeline().addLast(tls);
                        }
                        ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(maxBodyBytes), fetch);
                    }
                })
                .validate();
        if (loop.inEventLoop()) {
            fetch.start(loop, bootstrap, timeout);
        } else {
            loop.execute(() -> fetch.start(loop, bootstrap, timeout));
        }
        return promise;
    }

    /** Host header value: IPv6 literals need brackets to tell the address from the port. */
    static String authority(String host, int port) {
        boolean bracket = host.indexOf(':') >= 0 && !host.startsWith("[");
        return (bracket ? "[" + host + "]" : host) + ":" + port;
    }

    /** The state of one fetch, confined to its loop; also the last handler of its pipeline. */
    private static final class Fetch extends ChannelInboundHandlerAdapter {
        private final Promise<Response> promise;
        private final String host;
        private final int port;
        private final String path;
        private final Map<String, String> headers;
        private final int maxBodyBytes;

        Fetch(Promise<Response> promise, String host, int port, String path, Map<String, String> headers,
              int maxBodyBytes) {
            this.promise = promise;
            this.host = host;
            this.port = port;
            this.path = path;
            this.headers = headers;
            this.maxBodyBytes = maxBodyBytes;
        }

        void start(EventLoop loop, Bootstrap bootstrap, Duration timeout) {
            if (promise.isDone()) {
                return; // cancelled before the loop got to it
            }
            ChannelFuture connect = bootstrap.connect(host, port);
            Channel ch = connect.channel();
            ScheduledFuture<?> timer = loop.schedule(() -> promise.tryFailure(new TimeoutException(
                    (connect.isDone() ? "no complete response to GET " + path + " from " : "no connection to ")
                            + authority(host, port) + " within " + timeout.toMillis() + " ms")),
                    timeout.toNanos(), TimeUnit.NANOSECONDS);
            // The single place the connection ends: closing also aborts a connect or handshake still under way.
            promise.addListener(f -> {
                timer.cancel(false);
                ch.close();
            });
            connect.addListener((ChannelFuture f) -> {
                if (!f.isSuccess()) {
                    promise.tryFailure(f.cause());
                } else {
                    ch.writeAndFlush(request()).addListener(w -> {
                        if (!w.isSuccess()) {
                            promise.tryFailure(w.cause());
                        }
                    });
                }
            });
        }

        private FullHttpRequest request() {
            FullHttpRequest req =
                    new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path, Unpooled.EMPTY_BUFFER);
            req.headers()
                    .set(HttpHeaderNames.HOST, authority(host, port))
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            headers.forEach(req.headers()::set);
            return req;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof FullHttpResponse response) {
                    if (response.decoderResult().isFailure()) {
                        // Not HTTP; the codec's exception alone would not say from where.
                        Throwable bad = response.decoderResult().cause();
                        promise.tryFailure(
                                new IOException("bad response from " + authority(host, port) + ": " + bad, bad));
                    } else if (response.status().code() < 200 && response.status().code() != 101) {
                        return; // an interim response (100, 103 Early Hints): the final one follows
                    } else {
                        byte[] body = ByteBufUtil.getBytes(response.content());
                        promise.trySuccess(new Response(response.status().code(), body));
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            promise.tryFailure(cutShort(null));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            promise.tryFailure(failure(cause));
        }

        private Throwable failure(Throwable cause) {
            if (cause instanceof TooLongHttpContentException) {
                return new IOException(
                        "response from " + authority(host, port) + path + " over " + maxBodyBytes + " bytes", cause);
            }
            if (cause instanceof PrematureChannelClosureException) {
                return cutShort(cause); // the aggregator's word for a close in the middle of the body
            }
            // Decoders wrap what they catch (an SSLException, say); the wrapped cause is what the caller can act on.
            return cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        }

        /**
         * OpenSSL calls every failed handshake "General OpenSslEngine problem"; the reason (an unknown issuer, a name
         * mismatch) is the innermost cause, so that goes into the message a health log shows.
         */
        SSLHandshakeException handshakeFailure(String serverName, Throwable cause) {
            Throwable reason = cause;
            while (reason.getCause() != null) {
                reason = reason.getCause();
            }
            SSLHandshakeException e = new SSLHandshakeException("TLS handshake with " + authority(host, port)
                    + " as " + serverName + " failed: " + reason.getMessage());
            e.initCause(cause);
            return e;
        }

        private IOException cutShort(Throwable cause) {
            return new IOException(authority(host, port) + " closed the connection before a complete response", cause);
        }
    }
}
