package io.streamgate.server.demo;

import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Answers one connection's requests in order. A streamed answer is written one word per scheduled task on the
 * channel's event loop (never by sleeping on it); requests pipelined behind a stream wait until it has ended.
 */
final class DemoHandler extends ChannelInboundHandlerAdapter {
    static final long WORD_INTERVAL_MS = 50;
    static final String REPLY = "Hello from the Streamgate demo backend! Every word of this answer is a separate "
            + "server-sent event, relayed by the gateway as soon as it arrives.";

    private static final String[] WORDS = REPLY.split(" ");
    /** More pipelined requests than this behind a stream is abuse, not a client: the connection is closed. */
    private static final int MAX_WAITING = 16;
    private static final String SERVER = "streamgate-demo";

    private final Deque<FullHttpRequest> waiting = new ArrayDeque<>();
    private WordStream stream;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest request)) {
            // HttpObjectAggregator only emits full requests; anything else has no meaning here.
            ReferenceCountUtil.release(msg);
            return;
        }
        if (stream != null) {
            if (waiting.size() >= MAX_WAITING) {
                request.release();
                ctx.close();
                return;
            }
            waiting.add(request);
            return;
        }
        try {
            answer(ctx, request);
        } finally {
            request.release();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (stream != null) {
            stream.cancel();
            stream = null;
        }
        FullHttpRequest request;
        while ((request = waiting.poll()) != null) {
            request.release();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A demo origin has nobody to report to; a broken connection is simply closed.
        ctx.close();
    }

    private void answer(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (request.decoderResult().isFailure()) {
            respond(ctx, false, HttpResponseStatus.BAD_REQUEST, "application/json",
                    ChatCompletionJson.error("malformed HTTP request", "BadRequestError", 400));
            return;
        }
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        HttpMethod method = request.method();
        String path = new QueryStringDecoder(request.uri()).path();
        switch (path) {
            case "/health" -> {
                if (requireMethod(ctx, keepAlive, method, HttpMethod.GET)) {
                    respond(ctx, keepAlive, HttpResponseStatus.OK, null, "");
                }
            }
            case "/v1/models" -> {
                if (requireMethod(ctx, keepAlive, method, HttpMethod.GET)) {
                    respond(ctx, keepAlive, HttpResponseStatus.OK, "application/json",
                            ChatCompletionJson.models(ChatRequest.DEFAULT_MODEL, nowSeconds()));
                }
            }
            case "/v1/chat/completions" -> {
                if (requireMethod(ctx, keepAlive, method, HttpMethod.POST)) {
                    chatCompletion(ctx, keepAlive, request.content().toString(StandardCharsets.UTF_8));
                }
            }
            default -> respond(ctx, keepAlive, HttpResponseStatus.NOT_FOUND, "application/json",
                    ChatCompletionJson.detail("Not Found"));
        }
    }

    private static boolean requireMethod(ChannelHandlerContext ctx, boolean keepAlive, HttpMethod actual, HttpMethod allowed) {
        if (actual.equals(allowed)) {
            return true;
        }
        FullHttpResponse response = fullResponse(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "application/json",
                ChatCompletionJson.detail("Method Not Allowed"));
        response.headers().set(HttpHeaderNames.ALLOW, allowed.name());
        send(ctx, keepAlive, response);
        return false;
    }

    private void chatCompletion(ChannelHandlerContext ctx, boolean keepAlive, String body) {
        ChatRequest chat;
        try {
            chat = ChatRequest.parse(body);
        } catch (IllegalArgumentException e) {
            respond(ctx, keepAlive, HttpResponseStatus.BAD_REQUEST, "application/json",
                    ChatCompletionJson.error(e.getMessage(), "BadRequestError", 400));
            return;
        }
        String id = "chatcmpl-" + Long.toHexString(ThreadLocalRandom.current().nextLong())
                + Long.toHexString(ThreadLocalRandom.current().nextLong());
        int words = Math.min(WORDS.length, chat.maxTokens());
        String finishReason = words < WORDS.length ? "length" : "stop";
        if (!chat.stream()) {
            String text = String.join(" ", Arrays.copyOf(WORDS, words));
            respond(ctx, keepAlive, HttpResponseStatus.OK, "application/json", ChatCompletionJson.completion(
                    id, nowSeconds(), chat.model(), text, finishReason, chat.promptTokens(), words));
            return;
        }
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8")
                .set(HttpHeaderNames.CACHE_CONTROL, "no-cache")
                .set(HttpHeaderNames.SERVER, SERVER);
        HttpUtil.setTransferEncodingChunked(head, true);
        HttpUtil.setKeepAlive(head, keepAlive);
        ctx.write(head);
        // Stop reading further requests until this answer is complete; already decoded ones wait in `waiting`.
        ctx.channel().config().setAutoRead(false);
        stream = new WordStream(ctx, keepAlive, chat, id, words, finishReason);
        stream.start();
    }

    /** Called by the stream once its last chunk is written: answer what was pipelined meanwhile. */
    private void streamEnded(ChannelHandlerContext ctx, boolean keepAlive) {
        stream = null;
        if (!keepAlive) {
            return;
        }
        ctx.channel().config().setAutoRead(true);
        FullHttpRequest request;
        while (stream == null && (request = waiting.poll()) != null) {
            try {
                answer(ctx, request);
            } finally {
                request.release();
            }
        }
    }

    private static void respond(ChannelHandlerContext ctx, boolean keepAlive, HttpResponseStatus status,
                                String contentType, String body) {
        send(ctx, keepAlive, fullResponse(ctx, status, contentType, body));
    }

    private static FullHttpResponse fullResponse(ChannelHandlerContext ctx, HttpResponseStatus status,
                                                 String contentType, String body) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                ByteBufUtil.writeUtf8(ctx.alloc(), body));
        if (contentType != null) {
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        }
        response.headers()
                .set(HttpHeaderNames.SERVER, SERVER)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
        return response;
    }

    private static void send(ChannelHandlerContext ctx, boolean keepAlive, HttpResponse response) {
        HttpUtil.setKeepAlive(response, keepAlive);
        ChannelFuture written = ctx.writeAndFlush(response);
        if (!keepAlive) {
            written.addListener(ChannelFutureListener.CLOSE);
        }
    }

    private static long nowSeconds() {
        return System.currentTimeMillis() / 1000;
    }

    /** Writes one streamed answer: a role chunk, then a word per tick, then the finish chunk and {@code [DONE]}. */
    private final class WordStream implements Runnable {
        private final ChannelHandlerContext ctx;
        private final boolean keepAlive;
        private final ChatRequest chat;
        private final String id;
        private final long created = nowSeconds();
        private final int words;
        private final String finishReason;
        private int sent;
        private ScheduledFuture<?> next;

        WordStream(ChannelHandlerContext ctx, boolean keepAlive, ChatRequest chat, String id, int words, String finishReason) {
            this.ctx = ctx;
            this.keepAlive = keepAlive;
            this.chat = chat;
            this.id = id;
            this.words = words;
            this.finishReason = finishReason;
        }

        void start() {
            event(ChatCompletionJson.roleChunk(id, created, chat.model()));
            next = ctx.executor().schedule(this, WORD_INTERVAL_MS, TimeUnit.MILLISECONDS);
        }

        void cancel() {
            if (next != null) {
                next.cancel(false);
            }
        }

        @Override
        public void run() {
            if (!ctx.channel().isActive()) {
                return;
            }
            if (sent < words) {
                event(ChatCompletionJson.contentChunk(id, created, chat.model(), (sent == 0 ? "" : " ") + WORDS[sent]));
                sent++;
                next = ctx.executor().schedule(this, WORD_INTERVAL_MS, TimeUnit.MILLISECONDS);
                return;
            }
            event(ChatCompletionJson.finishChunk(id, created, chat.model(), finishReason));
            if (chat.includeUsage()) {
                event(ChatCompletionJson.usageChunk(id, created, chat.model(), chat.promptTokens(), words));
            }
            event("[DONE]");
            ChannelFuture written = ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            }
            streamEnded(ctx, keepAlive);
        }

        private void event(String data) {
            ctx.writeAndFlush(new DefaultHttpContent(ByteBufUtil.writeUtf8(ctx.alloc(), "data: " + data + "\n\n")));
        }
    }
}
