package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import io.streamgate.config.ServerConfig.TransportChoice;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Nagle's algorithm is off on client and upstream sockets without the gateway asking: each SSE event is a small
 * write that must leave at once, not wait for the previous one's ACK. Streamgate relies on Netty's default here
 * (setting the option again cost a syscall per connection), so this checks the default on every transport, on the
 * real sockets, in case a Netty upgrade changes it.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TransportNoDelayTest {

    @ParameterizedTest
    @EnumSource(value = TransportChoice.class, names = {"NIO", "EPOLL", "IO_URING"})
    void acceptedAndConnectedSocketsHaveNagleOff(TransportChoice choice) throws Exception {
        assumeTrue(choice != TransportChoice.EPOLL || Epoll.isAvailable(), "epoll is not available here");
        assumeTrue(choice != TransportChoice.IO_URING || IoUring.isAvailable(), "io_uring is not available here");
        Transport transport = Transport.select(choice);
        EventLoopGroup group = transport.newGroup(1);
        try {
            CompletableFuture<Boolean> accepted = new CompletableFuture<>();
            Channel server = new ServerBootstrap().group(group).channel(transport.serverChannel())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            accepted.complete(ch.config().getOption(ChannelOption.TCP_NODELAY));
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            Channel client = new Bootstrap().group(group).channel(transport.clientChannel())
                    .handler(new ChannelInboundHandlerAdapter())
                    .connect(server.localAddress()).sync().channel();
            assertEquals(Boolean.TRUE, client.config().getOption(ChannelOption.TCP_NODELAY), "upstream-side socket");
            assertEquals(Boolean.TRUE, accepted.get(10, TimeUnit.SECONDS), "client-side socket");
            client.close().sync();
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
