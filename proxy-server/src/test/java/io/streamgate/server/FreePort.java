package io.streamgate.server;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/** A port that was free a moment ago, for child processes that must be told their port up front. */
final class FreePort {
    private FreePort() {
    }

    static int find() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
