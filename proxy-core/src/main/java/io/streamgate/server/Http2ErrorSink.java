package io.streamgate.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of an HTTP/2 connection. The codec passes every protocol error down the pipeline before it answers
 * with GOAWAY or RST_STREAM itself; without this sink each one would reach the pipeline's tail and be logged as a
 * warning with a stack trace, which lets any client fill the log.
 */
final class Http2ErrorSink extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(Http2ErrorSink.class);

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("HTTP/2 connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
        if (!(cause instanceof Http2Exception)) {
            ctx.close(); // I/O errors: the codec has nothing to answer, the connection is gone
        }
    }
}
