package io.streamgate.server.admin;

import static io.streamgate.server.admin.AdminResponses.JSON;
import static io.streamgate.server.admin.AdminResponses.error;
import static io.streamgate.server.admin.AdminResponses.response;
import static io.streamgate.server.admin.AdminResponses.write;

import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpContentException;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.streamgate.Streamgate;
import io.streamgate.server.ConfigReloader;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Routes admin requests. {@code /healthz}, {@code /readyz} and {@code /metrics} are open (probes and Prometheus
 * reach them without secrets; the listener is loopback by default); everything under {@code /admin/} needs the
 * configured token, compared in constant time.
 */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

    private final AdminEndpoints endpoints;
    private final byte[] token;
    /**
     * Requests pipelined behind one whose answer is still being worked out off this call ({@code /readyz} waits for
     * its probes, {@code /admin/reload} for the reload thread). HTTP/1.1 answers in request order, so they wait here
     * and reading stops until that answer is written. Only touched on the channel's event loop.
     */
    private final ArrayDeque<FullHttpRequest> waiting = new ArrayDeque<>();
    private boolean answerPending;

    AdminHandler(AdminEndpoints endpoints, String token) {
        this.endpoints = endpoints;
        this.token = token == null ? null : token.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) throws IOException {
        if (answerPending) {
            waiting.add(req.retain()); // decoded from the same read as the request being answered
            return;
        }
        answer(ctx, req);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseWaiting();
        ctx.fireChannelInactive();
    }

    private void answer(ChannelHandlerContext ctx, FullHttpRequest req) throws IOException {
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        if (!req.decoderResult().isSuccess()) {
            if (req.decoderResult().cause() instanceof TooLongHttpContentException tooLong) {
                // From AdminAggregator, which also decided whether the connection can go on (see there).
                send(ctx, keepAlive, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, error(tooLong.getMessage()));
                return;
            }
            // The same statuses as the main listener gives (see RequestGuard); the decoder cannot go on after any.
            Throwable cause = req.decoderResult().cause();
            if (cause instanceof TooLongHttpLineException) {
                send(ctx, false, HttpResponseStatus.REQUEST_URI_TOO_LONG, error("request line too long"));
            } else if (cause instanceof TooLongHttpHeaderException) {
                send(ctx, false, HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                        error("request header fields too large"));
            } else {
                send(ctx, false, HttpResponseStatus.BAD_REQUEST, error("malformed request"));
            }
            return;
        }
        QueryStringDecoder uri = new QueryStringDecoder(req.uri());
        String path = uri.path();
        HttpMethod method = req.method();
        if (path.startsWith("/admin/") && !authorized(req.headers().get(HttpHeaderNames.AUTHORIZATION))) {
            FullHttpResponse r = response(HttpResponseStatus.UNAUTHORIZED, error("the admin token is missing or wrong"));
            r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"streamgate-admin\"");
            write(ctx, keepAlive, r);
            return;
        }
        switch (path) {
            case "/healthz" -> {
                if (readOnly(ctx, keepAlive, method)) {
                    send(ctx, keepAlive, HttpResponseStatus.OK, "{\"status\":\"ok\"}");
                }
            }
            case "/readyz" -> {
                if (readOnly(ctx, keepAlive, method)) {
                    ready(ctx, keepAlive);
                }
            }
            case "/metrics" -> {
                if (readOnly(ctx, keepAlive, method)) {
                    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                            Unpooled.copiedBuffer(endpoints.scrape(), StandardCharsets.UTF_8));
                    r.headers().set(HttpHeaderNames.CONTENT_TYPE, PROMETHEUS_TEXT);
                    write(ctx, keepAlive, r);
                }
            }
            case "/admin/config" -> {
                if (readOnly(ctx, keepAlive, method)) {
                    send(ctx, keepAlive, HttpResponseStatus.OK, configJson(endpoints.config()));
                }
            }
            case "/admin/upstreams" -> {
                if (readOnly(ctx, keepAlive, method)) {
                    send(ctx, keepAlive, HttpResponseStatus.OK, upstreamsJson(endpoints.gateway().endpointStates()));
                }
            }
            case "/admin/reload" -> {
                if (!method.equals(HttpMethod.POST)) {
                    methodNotAllowed(ctx, keepAlive, "POST");
                    return;
                }
                reload(ctx, keepAlive);
            }
            case "/admin/cache/purge" -> {
                if (!method.equals(HttpMethod.POST)) {
                    methodNotAllowed(ctx, keepAlive, "POST");
                    return;
                }
                String route = first(uri.parameters().get("route"));
                String prefix = first(uri.parameters().get("prefix"));
                if (route == null && prefix == null) {
                    send(ctx, keepAlive, HttpResponseStatus.BAD_REQUEST, error("give route=NAME or prefix=KEY_PREFIX"));
                    return;
                }
                long purged = endpoints.gateway().purgeCache(route, prefix);
                send(ctx, keepAlive, HttpResponseStatus.OK, "{\"purged\":" + purged + "}");
            }
            default -> send(ctx, keepAlive, HttpResponseStatus.NOT_FOUND, error("no admin endpoint " + path));
        }
    }

    private void ready(ChannelHandlerContext ctx, boolean keepAlive) {
        if (endpoints.draining()) {
            send(ctx, keepAlive, HttpResponseStatus.SERVICE_UNAVAILABLE, "{\"ready\":false,\"reason\":\"draining\"}");
            return;
        }
        awaitAnswer(ctx);
        endpoints.probeUpstreams().whenComplete((result, error) -> ctx.executor().execute(() -> {
            try {
                boolean ready = error == null && result.everyUpstreamHasAnEndpointUp();
                StringWriter out = new StringWriter();
                try (JsonGenerator g = JSON.createGenerator(out)) {
                    g.writeStartObject();
                    g.writeBooleanField("ready", ready);
                    if (result != null) {
                        g.writeObjectFieldStart("upstreams");
                        for (Map.Entry<String, Map<String, String>> u : result.upstreams().entrySet()) {
                            g.writeObjectFieldStart(u.getKey());
                            for (Map.Entry<String, String> e : u.getValue().entrySet()) {
                                g.writeStringField(e.getKey(), e.getValue());
                            }
                            g.writeEndObject();
                        }
                        g.writeEndObject();
                    }
                    g.writeEndObject();
                }
                send(ctx, keepAlive, ready ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE, out.toString());
            } catch (IOException e) {
                send(ctx, false, HttpResponseStatus.INTERNAL_SERVER_ERROR, error(e.toString()));
                answered(ctx, false);
                return;
            }
            answered(ctx, keepAlive);
        }));
    }

    private void reload(ChannelHandlerContext ctx, boolean keepAlive) {
        ConfigReloader reloader = endpoints.reloader();
        if (reloader == null) {
            send(ctx, keepAlive, HttpResponseStatus.SERVICE_UNAVAILABLE, error("reloading is not available"));
            return;
        }
        awaitAnswer(ctx);
        reloader.reload("admin").whenComplete((outcome, failure) -> ctx.executor().execute(() -> {
            StringWriter out = new StringWriter();
            try (JsonGenerator g = JSON.createGenerator(out)) {
                g.writeStartObject();
                g.writeBooleanField("applied", failure == null && outcome.applied());
                if (outcome != null && outcome.sha256() != null) {
                    g.writeStringField("sha256", outcome.sha256());
                }
                String why = failure != null ? failure.toString() : outcome.error();
                if (why != null) {
                    g.writeStringField("error", why);
                }
                g.writeArrayFieldStart("restart_needed");
                if (outcome != null) {
                    for (String s : outcome.restartNeeded()) {
                        g.writeString(s);
                    }
                }
                g.writeEndArray();
                g.writeEndObject();
            } catch (IOException e) {
                throw new IllegalStateException(e); // a StringWriter does not fail
            }
            boolean ok = failure == null && outcome.applied();
            send(ctx, keepAlive, ok ? HttpResponseStatus.OK : HttpResponseStatus.UNPROCESSABLE_ENTITY, out.toString());
            answered(ctx, keepAlive);
        }));
    }

    /** The answer to the current request comes later: hold back the requests behind it. */
    private void awaitAnswer(ChannelHandlerContext ctx) {
        answerPending = true;
        ctx.channel().config().setAutoRead(false);
    }

    /**
     * The pending answer is written: answer what was pipelined behind it, in order, and read on. After an answer that
     * closes the connection nothing more is answered.
     */
    private void answered(ChannelHandlerContext ctx, boolean keepAlive) {
        answerPending = false;
        if (!keepAlive) {
            releaseWaiting();
            return;
        }
        FullHttpRequest next;
        while (!answerPending && (next = waiting.poll()) != null) {
            boolean more = HttpUtil.isKeepAlive(next);
            try {
                answer(ctx, next);
            } catch (IOException e) {
                exceptionCaught(ctx, e); // as when channelRead0 throws
                return;
            } finally {
                next.release();
            }
            if (!more) {
                releaseWaiting(); // that answer closes the connection
                return;
            }
        }
        if (!answerPending) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    private void releaseWaiting() {
        FullHttpRequest request;
        while ((request = waiting.poll()) != null) {
            request.release();
        }
    }

    private static String configJson(ConfigView view) throws IOException {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("source", view.source());
            g.writeStringField("sha256", view.sha256());
            g.writeStringField("loaded_at", Instant.ofEpochMilli(view.loadedAt()).toString());
            g.writeStringField("yaml", view.text());
            g.writeEndObject();
        }
        return out.toString();
    }

    /** Endpoints grouped by upstream, each with its state, connections and in-flight requests. */
    private static String upstreamsJson(Map<String, Streamgate.EndpointState> states) throws IOException {
        Map<String, Map<String, Streamgate.EndpointState>> byUpstream = new LinkedHashMap<>();
        states.forEach((name, s) -> byUpstream.computeIfAbsent(s.upstream(), u -> new LinkedHashMap<>()).put(name, s));
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            for (Map.Entry<String, Map<String, Streamgate.EndpointState>> u : byUpstream.entrySet()) {
                g.writeObjectFieldStart(u.getKey());
                for (Map.Entry<String, Streamgate.EndpointState> e : u.getValue().entrySet()) {
                    Streamgate.EndpointState s = e.getValue();
                    g.writeObjectFieldStart(e.getKey());
                    g.writeStringField("state", s.state());
                    g.writeBooleanField("available", s.available());
                    g.writeNumberField("in_flight", s.inFlight());
                    g.writeNumberField("open", s.open());
                    g.writeNumberField("idle", s.idle());
                    g.writeNumberField("pending", s.pending());
                    g.writeBooleanField("up", s.up());
                    g.writeNumberField("connect_failures", s.connectFailures());
                    g.writeEndObject();
                }
                g.writeEndObject();
            }
            g.writeEndObject();
        }
        return out.toString();
    }

    private boolean authorized(String header) {
        if (token == null) {
            return true;
        }
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        return MessageDigest.isEqual(token, header.substring(7).trim().getBytes(StandardCharsets.UTF_8));
    }

    private boolean readOnly(ChannelHandlerContext ctx, boolean keepAlive, HttpMethod method) {
        if (method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD)) {
            return true;
        }
        methodNotAllowed(ctx, keepAlive, "GET, HEAD");
        return false;
    }

    private void methodNotAllowed(ChannelHandlerContext ctx, boolean keepAlive, String allow) {
        FullHttpResponse r = response(HttpResponseStatus.METHOD_NOT_ALLOWED, error("use " + allow));
        r.headers().set(HttpHeaderNames.ALLOW, allow);
        write(ctx, keepAlive, r);
    }

    private static String first(List<String> values) {
        return values == null || values.isEmpty() || values.get(0).isEmpty() ? null : values.get(0);
    }

    private static void send(ChannelHandlerContext ctx, boolean keepAlive, HttpResponseStatus status, String json) {
        write(ctx, keepAlive, response(status, json));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
