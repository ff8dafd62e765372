package io.streamgate.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A backend that writes raw bytes: it reads one request per connection (head, and a Content-Length body) and lets
 * the test's handler write whatever it likes, framing included: compressed bodies, a body delimited by the close, a
 * close in the middle of an event. The connection is closed when the handler returns. {@link TestBackend} is the
 * one to use for well-formed HTTP.
 */
public final class RawBackend implements AutoCloseable {
    /** One request as read. */
    public record Request(String head, String body, Socket socket) {
        /** The value of header {@code name} (case-insensitive), or null. */
        public String header(String name) {
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
            return null;
        }
    }

    @FunctionalInterface
    public interface Handler {
        void handle(Request request, OutputStream out) throws Exception;
    }

    private final ServerSocket server;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final List<Request> received = new CopyOnWriteArrayList<>();

    public RawBackend(Handler handler) throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        threads.execute(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    threads.execute(() -> serve(s, handler));
                } catch (IOException e) {
                    return; // closed
                }
            }
        });
    }

    private void serve(Socket s, Handler handler) {
        try (s) {
            InputStream in = s.getInputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int matched = 0;
            while (matched < 4) {
                int b = in.read();
                if (b < 0) {
                    return;
                }
                head.write(b);
                matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : b == '\r' ? 1 : 0;
            }
            String headText = head.toString(StandardCharsets.ISO_8859_1);
            String length = new Request(headText, "", s).header("content-length");
            byte[] body = length == null ? new byte[0] : in.readNBytes(Integer.parseInt(length));
            Request request = new Request(headText, new String(body, StandardCharsets.UTF_8), s);
            received.add(request);
            handler.handle(request, s.getOutputStream());
        } catch (Exception e) {
            // the connection ends with the handler, however it ended
        }
    }

    /** Writes {@code data} as one chunk of a chunked body, and flushes. */
    public static void chunk(OutputStream out, byte[] data) throws IOException {
        out.write((Integer.toHexString(data.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(data);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    public List<Request> received() {
        return received;
    }

    public String url() {
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    @Override
    public void close() throws IOException {
        server.close();
        threads.shutdownNow();
    }
}
