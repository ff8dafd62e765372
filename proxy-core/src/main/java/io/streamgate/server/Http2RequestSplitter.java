package io.streamgate.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.ReferenceCountUtil;

/**
 * Makes an HTTP/2 request look exactly like a decoded HTTP/1.1 one: a request whose HEADERS frame ended the stream
 * arrives as one full request, which is split into head and (empty) last content; the conversion's own
 * {@code x-http2-*} headers are dropped so they never reach a backend; and frames that are not part of the request
 * are dropped.
 */
final class Http2RequestSplitter extends ChannelInboundHandlerAdapter {
    static final String NAME = "h2-request-splitter";

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest) {
            stripExtensionHeaders(((HttpRequest) msg).headers());
        }
        if (msg instanceof FullHttpRequest) {
            FullHttpRequest full = (FullHttpRequest) msg;
            HttpRequest head = new DefaultHttpRequest(full.protocolVersion(), full.method(), full.uri(), full.headers());
            head.setDecoderResult(full.decoderResult());
            ctx.fireChannelRead(head);
            ctx.fireChannelRead(new DefaultLastHttpContent(full.content(), full.trailingHeaders()));
            return;
        }
        if (msg instanceof HttpObject) {
            ctx.fireChannelRead(msg);
        } else {
            // Frames a receiver must ignore (unknown types, RFC 9113 §4.1 and §5.5): dropped here, so the stream keeps
            // being read and they cannot pile up unread, which nothing would bound (they are not flow-controlled).
            ReferenceCountUtil.release(msg);
        }
    }

    private static void stripExtensionHeaders(HttpHeaders headers) {
        for (HttpConversionUtil.ExtensionHeaderNames name : HttpConversionUtil.ExtensionHeaderNames.values()) {
            headers.remove(name.text());
        }
    }
}
