package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.streamgate.config.ConfigLoader;
import io.streamgate.config.ServerConfig.TransportChoice;
import io.streamgate.server.Transport;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UpstreamPoolsTest {

    /**
     * Both loops meet a new endpoint at once (thousands of streams opened together do that): the endpoint is
     * announced once, so its meters are registered once (twice made Micrometer warn, "already registered").
     */
    @Test
    void anEndpointFirstUsedOnTwoLoopsAtOnceIsAnnouncedOnce() throws Exception {
        Upstream upstream = new Upstream(ConfigLoader.parse("""
                server:
                  listen: "127.0.0.1:0"
                upstreams:
                  backend:
                    endpoints: ["http://127.0.0.1:9"]
                routes:
                  - path_prefix: /
                    upstream: backend
                """, "test.yaml", Map.<String, String>of()::get).upstreams().get("backend"));
        Transport transport = Transport.select(TransportChoice.NIO);
        EventLoopGroup group = transport.newGroup(2);
        try {
            List<EventLoop> loops = List.of(group.next(), group.next());
            assertNotSame(loops.get(0), loops.get(1));
            for (int round = 0; round < 20_000; round++) {
                AtomicInteger announced = new AtomicInteger();
                UpstreamPools pools = new UpstreamPools(transport, (name, endpoint) -> announced.incrementAndGet());
                CyclicBarrier together = new CyclicBarrier(2);
                var first = loops.get(0).submit(() -> {
                    together.await();
                    return pools.pool(loops.get(0), upstream, 0);
                });
                var second = loops.get(1).submit(() -> {
                    together.await();
                    return pools.pool(loops.get(1), upstream, 0);
                });
                first.get(10, TimeUnit.SECONDS);
                second.get(10, TimeUnit.SECONDS);
                assertEquals(1, announced.get(), "round " + round);
            }
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
    }
}
