package io.streamgate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.streamgate.config.RouteConfig;
import io.streamgate.server.RequestIds;
import io.streamgate.server.TrustedHeaderNames;
import io.streamgate.upstream.ForwardingHeaders;
import io.streamgate.upstream.HopByHopHeaders;
import java.lang.reflect.Constructor;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The header work of one proxied request, on the gateway's own codecs (built by reflection: they are package-private)
 * with pooled direct buffers as in production: the client's request head decoded, forwarding headers applied and
 * encoded for the backend; the backend's response head decoded, our headers added and encoded for the client.
 * The request is what the OpenAI Python client sends, the response what uvicorn (vLLM) writes. Measures what the
 * load tests cannot resolve on a noisy 2-core machine: a change of a few percent in this path.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled"})
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
public class HeaderPathBenchmark {
    private static final byte[] REQUEST = ("POST /v1/chat/completions HTTP/1.1\r\n"
            + "Host: gateway.example.com\r\n"
            + "Accept-Encoding: gzip, deflate\r\n"
            + "Connection: keep-alive\r\n"
            + "Accept: application/json\r\n"
            + "Content-Type: application/json\r\n"
            + "User-Agent: OpenAI/Python 1.54.0\r\n"
            + "X-Stainless-Lang: python\r\n"
            + "X-Stainless-Package-Version: 1.54.0\r\n"
            + "Authorization: Bearer sk-bench-0123456789abcdef\r\n"
            + "Content-Length: 2\r\n\r\n{}").getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RESPONSE = ("HTTP/1.1 200 OK\r\n"
            + "date: Fri, 27 Nov 2026 12:00:00 GMT\r\n"
            + "server: uvicorn\r\n"
            + "content-length: 2\r\n"
            + "content-type: application/json\r\n\r\n{}").getBytes(StandardCharsets.US_ASCII);
    private static final AsciiString RATELIMIT_LIMIT = AsciiString.cached("ratelimit-limit");
    private static final AsciiString RATELIMIT_REMAINING = AsciiString.cached("ratelimit-remaining");
    private static final AsciiString RATELIMIT_RESET = AsciiString.cached("ratelimit-reset");

    private EmbeddedChannel client;
    private EmbeddedChannel upstream;
    private final String requestId = "0123456789abcdef0123456789abcdef";

    @Setup
    public void setUp() throws Exception {
        HttpDecoderConfig clientConfig = new HttpDecoderConfig().setMaxChunkSize(64 * 1024)
                .setAllowDuplicateContentLengths(false).setUseRfc9112TransferEncoding(true).setStrictLineParsing(true)
                .setHeadersFactory(TrustedHeaderNames.headersFactory().withValueValidation(true))
                .setTrailersFactory(trailers());
        HttpDecoderConfig upstreamConfig = new HttpDecoderConfig().setMaxHeaderSize(64 * 1024)
                .setMaxChunkSize(64 * 1024).setHeadersFactory(TrustedHeaderNames.headersFactory())
                .setTrailersFactory(trailers());
        client = new EmbeddedChannel(
                handler("io.streamgate.server.StrictRequestDecoder", clientConfig),
                handler("io.streamgate.server.ClientResponseEncoder"));
        upstream = new EmbeddedChannel(
                handler("io.streamgate.upstream.UpstreamResponseDecoder", upstreamConfig),
                requestEncoder());
        client.config().setAllocator(ByteBufAllocator.DEFAULT);
        upstream.config().setAllocator(ByteBufAllocator.DEFAULT);
    }

    @TearDown
    public void tearDown() {
        client.finishAndReleaseAll();
        upstream.finishAndReleaseAll();
    }

    /** Both heads, each decoded, rewritten and encoded once; returns the bytes written. */
    @Benchmark
    public int requestAndResponse() {
        HttpRequest request = decode(client, REQUEST);
        HttpHeaders h = request.headers();
        boolean chunked = HopByHopHeaders.chunked(request);
        HopByHopHeaders.strip(h);
        if (chunked) {
            h.set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        }
        ForwardingHeaders.dropClientSupplied(h); // a client that is no trusted proxy, as most are
        ForwardingHeaders.apply(h, RouteConfig.ForwardedHeaders.X_FORWARDED, "203.0.113.7", "https", h.get(HttpHeaderNames.HOST));
        h.set(RequestIds.HEADER, requestId);
        int written = write(upstream, request);

        HttpResponse response = decode(upstream, RESPONSE);
        HttpHeaders r = response.headers();
        boolean keepAlive = HopByHopHeaders.keepAlive(response);
        boolean framedByLength = HttpUtil.isContentLengthSet(response) && !HopByHopHeaders.chunked(response);
        HopByHopHeaders.strip(r);
        if (!framedByLength) {
            r.set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        }
        String type = r.get(HttpHeaderNames.CONTENT_TYPE);
        r.set(RequestIds.HEADER, requestId);
        r.set(RATELIMIT_LIMIT, "600");
        r.set(RATELIMIT_REMAINING, "599");
        r.set(RATELIMIT_RESET, "1");
        return written + write(client, response) + (keepAlive ? 1 : 0) + type.length();
    }

    /** Feeds {@code head} and returns the decoded message; its body parts are released. */
    @SuppressWarnings("unchecked")
    private static <T> T decode(EmbeddedChannel ch, byte[] head) {
        ByteBuf in = ch.alloc().directBuffer(head.length);
        in.writeBytes(head);
        ch.writeInbound(in);
        T message = null;
        for (Object o; (o = ch.readInbound()) != null; ) {
            if (o instanceof HttpContent) {
                ReferenceCountUtil.release(o);
            } else {
                message = (T) o;
            }
        }
        return message;
    }

    private static int write(EmbeddedChannel ch, Object head) {
        ch.writeOutbound(head, LastHttpContent.EMPTY_LAST_CONTENT);
        int bytes = 0;
        for (Object o; (o = ch.readOutbound()) != null; ) {
            bytes += ((ByteBuf) o).readableBytes();
            ReferenceCountUtil.release(o);
        }
        return bytes;
    }

    private static ChannelHandler handler(String className, Object... args) throws Exception {
        Class<?> type = Class.forName(className);
        for (Constructor<?> c : type.getDeclaredConstructors()) {
            if (c.getParameterCount() == args.length) {
                c.setAccessible(true);
                return (ChannelHandler) c.newInstance(args);
            }
        }
        throw new IllegalStateException("no constructor of " + className + " with " + args.length + " parameters");
    }

    /** The decoders' trailer maps: the gateway's own factory if it has one, else Netty's. */
    private static HttpHeadersFactory trailers() throws Exception {
        try {
            return (HttpHeadersFactory) Class.forName("io.streamgate.server.CompactTrailers").getMethod("factory").invoke(null);
        } catch (ClassNotFoundException e) {
            return DefaultHttpHeadersFactory.trailersFactory();
        }
    }

    /** The upstream request encoder the gateway uses: its own class if it has one, else Netty's. */
    private static ChannelHandler requestEncoder() throws Exception {
        try {
            return handler("io.streamgate.upstream.UpstreamRequestEncoder");
        } catch (ClassNotFoundException e) {
            return new io.netty.handler.codec.http.HttpRequestEncoder();
        }
    }
}
