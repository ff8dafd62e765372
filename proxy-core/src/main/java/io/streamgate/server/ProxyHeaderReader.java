package io.streamgate.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.util.NetUtil;
import java.net.InetAddress;

/**
 * Takes the client address from a PROXY protocol header (v1 or v2, decoded by Netty's HAProxyMessageDecoder) sent
 * by a trusted load balancer, then leaves the pipeline. A LOCAL command (the balancer's own health check) carries
 * no client address; the socket peer stands.
 */
final class ProxyHeaderReader extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HAProxyMessage)) {
            ctx.fireChannelRead(msg);
            return;
        }
        HAProxyMessage header = (HAProxyMessage) msg;
        try {
            if (header.command() == HAProxyCommand.PROXY && header.sourceAddress() != null) {
                // A literal parsed without any name lookup; an unparsable one leaves the socket peer in place.
                InetAddress client = NetUtil.createInetAddressFromIpAddressString(header.sourceAddress());
                if (client != null) {
                    ctx.channel().attr(ConnectionInfo.PROXIED_CLIENT).set(client);
                }
            }
        } finally {
            header.release();
        }
        ctx.pipeline().remove(this);
        ctx.read();
    }
}
