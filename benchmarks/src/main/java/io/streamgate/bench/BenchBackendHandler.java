package io.streamgate.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** Answers /json and /sse; request bodies (none are expected) are dropped. One instance per connection. */
final class BenchBackendHandler extends SimpleChannelInboundHandler<HttpObject> {
    /** ~200 B, shaped like a non-streaming completion. Unreleasable so every response can share it. */
    private static final ByteBuf JSON = Unpooled.unreleasableBuffer(Unpooled.directBuffer().writeBytes((
            "{\"id\":\"cmpl-bench\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"bench\","
                    + "\"choices\":[{\"index\":0,\"text\":\"Hello from the bench backend.\",\"finish_reason\":\"stop\"}],"
                    + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12}}")
            .getBytes(StandardCharsets.US_ASCII)));
    private static final ByteBuf NOT_FOUND = Unpooled.unreleasableBuffer(Unpooled.directBuffer().writeBytes(
            "{\"error\":{\"message\":\"not found\",\"type\":\"invalid_request_error\",\"code\":\"not_found\"}}"
                    .getBytes(StandardCharsets.US_ASCII)));
    private static final ByteBuf METHOD_NOT_ALLOWED = Unpooled.unreleasableBuffer(Unpooled.directBuffer().writeBytes(
            "{\"error\":{\"message\":\"only GET\",\"type\":\"invalid_request_error\",\"code\":\"method_not_allowed\"}}"
                    .getBytes(StandardCharsets.US_ASCII)));
    private static final int MAX_EVENTS = 1_000_000;

    private SseStream stream;

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
        if (!(msg instanceof HttpRequest request)) {
            return;
        }
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        if (request.method() != HttpMethod.GET) {
            ctx.write(json(HttpResponseStatus.METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED));
        } else if (uri.path().equals("/json")) {
            ctx.write(json(HttpResponseStatus.OK, JSON));
        } else if (uri.path().equals("/sse")) {
            int events = Math.min(intParam(uri, "events", 100), MAX_EVENTS);
            int intervalMs = intParam(uri, "interval_ms", 10);
            stream = new SseStream(ctx, events, intervalMs);
            stream.start();
        } else {
            ctx.write(json(HttpResponseStatus.NOT_FOUND, NOT_FOUND));
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // Batch the writes of one read into one syscall, like a real server does.
        ctx.flush();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (stream != null) {
            stream.cancel();
        }
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Peers resetting connections at the end of a load run is normal; just drop the connection.
        ctx.close();
    }

    private static FullHttpResponse json(HttpResponseStatus status, ByteBuf body) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body.duplicate());
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        return response;
    }

    private static int intParam(QueryStringDecoder uri, String name, int fallback) {
        List<String> values = uri.parameters().get(name);
        if (values == null || values.isEmpty()) {
            return fallback;
        }
        try {
            return Math.max(0, Integer.parseInt(values.get(0)));
        } catch (NumberFormatException e) {
            return fallback;
        }
    }
}
