package io.streamgate.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * A port on 127.0.0.1 where connecting is refused, held for as long as the test needs it: a socket bound there that
 * never listens (a SYN finds no listener and is answered with a reset). Taking a free port and closing it at once,
 * as the tests did, let a listener started afterwards (the gateway itself, a test backend) be given that very port,
 * and then "nothing listens" was false: a flaky endpoint that was up. While this socket holds the port (without
 * SO_REUSEADDR) no other socket can bind it, nor use it as the source port of a connect.
 */
public final class RefusingPort implements AutoCloseable {
    private final Socket holder;

    private RefusingPort(Socket holder) {
        this.holder = holder;
    }

    public static RefusingPort open() throws IOException {
        Socket holder = new Socket();
        holder.setReuseAddress(false);
        holder.bind(new InetSocketAddress("127.0.0.1", 0));
        return new RefusingPort(holder);
    }

    public int port() {
        return holder.getLocalPort();
    }

    /** {@code http://127.0.0.1:port}, as an endpoint URL. */
    public String url() {
        return "http://127.0.0.1:" + port();
    }

    @Override
    public void close() throws IOException {
        holder.close();
    }
}
