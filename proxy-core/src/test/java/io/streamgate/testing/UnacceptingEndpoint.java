package io.streamgate.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;

/**
 * A port on 127.0.0.1 where a TCP connect hangs instead of being refused: a listening socket that never accepts,
 * with its accept queue filled. Linux drops a SYN aimed at a full accept queue (unless tcp_abort_on_overflow is
 * set), so the connecting side keeps retransmitting until its own timeout fires. Used to provoke connect timeouts
 * without leaving loopback.
 */
public final class UnacceptingEndpoint implements AutoCloseable {
    private static final int PROBE_TIMEOUT_MS = 300;
    private static final int MAX_FILLERS = 64;

    private final ServerSocket listener;
    private final List<Socket> fillers;
    private final boolean hangs;

    private UnacceptingEndpoint(ServerSocket listener, List<Socket> fillers, boolean hangs) {
        this.listener = listener;
        this.fillers = fillers;
        this.hangs = hangs;
    }

    /** Binds and fills the accept queue until a probe connect times out (or gives up; see {@link #connectHangs()}). */
    public static UnacceptingEndpoint open() throws IOException {
        ServerSocket listener = new ServerSocket();
        listener.bind(new InetSocketAddress("127.0.0.1", 0), 1);
        List<Socket> fillers = new ArrayList<>();
        boolean hangs = false;
        try {
            while (fillers.size() < MAX_FILLERS) {
                Socket s = new Socket();
                try {
                    s.connect(listener.getLocalSocketAddress(), PROBE_TIMEOUT_MS);
                    fillers.add(s);
                } catch (SocketTimeoutException queueFull) {
                    s.close();
                    hangs = true;
                    break;
                }
            }
        } catch (IOException e) {
            for (Socket s : fillers) {
                s.close();
            }
            listener.close();
            throw e;
        }
        return new UnacceptingEndpoint(listener, fillers, hangs);
    }

    /** False when this kernel answered every connect (then a test relying on a hanging connect cannot run here). */
    public boolean connectHangs() {
        return hangs;
    }

    public int port() {
        return listener.getLocalPort();
    }

    public String url() {
        return "http://127.0.0.1:" + port();
    }

    @Override
    public void close() throws IOException {
        for (Socket s : fillers) {
            s.close();
        }
        listener.close();
    }
}
