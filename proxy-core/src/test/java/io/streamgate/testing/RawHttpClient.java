package io.streamgate.testing;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * An HTTP/1.1 client on a plain socket: the test writes exactly the bytes it wants (pipelining, conflicting
 * framing headers, oversize lines) and sees exactly what came back, including whether a chunked body ended
 * with its terminating chunk or the connection just ended.
 */
public final class RawHttpClient implements AutoCloseable {
    private static final int DEFAULT_READ_TIMEOUT_MS = 10_000;

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private RawHttpClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
        this.out = socket.getOutputStream();
    }

    /** Connects to 127.0.0.1:port; every read fails after 10 s without data. */
    public static RawHttpClient connect(int port) throws IOException {
        Socket socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        socket.setSoTimeout(DEFAULT_READ_TIMEOUT_MS);
        return new RawHttpClient(socket);
    }

    /** Speaks HTTP/1.1 over an already connected socket (e.g. a TLS socket after its handshake). */
    public static RawHttpClient over(Socket socket) throws IOException {
        if (socket.getSoTimeout() == 0) {
            socket.setSoTimeout(DEFAULT_READ_TIMEOUT_MS);
        }
        return new RawHttpClient(socket);
    }

    public Socket socket() {
        return socket;
    }

    /** Writes {@code text} as ISO-8859-1 in one write call (lines must carry their own CRLF). */
    public RawHttpClient send(String text) throws IOException {
        return send(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    public RawHttpClient send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
        return this;
    }

    /** A GET with Host and the given extra header lines ("Name: value"). */
    public RawHttpClient get(String target, String... headerLines) throws IOException {
        return send(request("GET", target, null, headerLines));
    }

    /** A POST with a Content-Length body. */
    public RawHttpClient post(String target, String body, String... headerLines) throws IOException {
        return send(request("POST", target, body, headerLines));
    }

    /** The text of a request; {@code body} null means no body. A Host header is added unless given. */
    public static String request(String method, String target, String body, String... headerLines) {
        StringBuilder sb = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n");
        boolean hasHost = false;
        for (String line : headerLines) {
            hasHost |= line.regionMatches(true, 0, "host:", 0, 5);
        }
        if (!hasHost) {
            sb.append("Host: test.local\r\n");
        }
        for (String line : headerLines) {
            sb.append(line).append("\r\n");
        }
        if (body != null) {
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            sb.append("Content-Length: ").append(bytes.length).append("\r\n\r\n");
            sb.append(new String(bytes, StandardCharsets.ISO_8859_1));
        } else {
            sb.append("\r\n");
        }
        return sb.toString();
    }

    /** Reads one whole response; the body is read to its end (or to the connection's end). */
    public RawResponse readResponse() throws IOException {
        ResponseHead head = readHead();
        BodyStream body = openBody(head);
        byte[] bytes = body.readAllBytes();
        return new RawResponse(head, bytes, body.isComplete());
    }

    /** Reads the status line and headers of the next response. */
    public ResponseHead readHead() throws IOException {
        String statusLine = readLine(in);
        if (statusLine == null) {
            throw new EOFException("connection closed before a response arrived");
        }
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
            throw new IOException("not an HTTP/1.x status line: " + statusLine);
        }
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (String line = readLine(in); ; line = readLine(in)) {
            if (line == null) {
                throw new EOFException("connection closed inside the response head");
            }
            if (line.isEmpty()) {
                break;
            }
            int colon = line.indexOf(':');
            headers.computeIfAbsent(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                    .add(line.substring(colon + 1).trim());
        }
        return new ResponseHead(Integer.parseInt(parts[1]), parts.length > 2 ? parts[2] : "", headers);
    }

    /** The body of the response whose head was just read, decoded from its framing. */
    public BodyStream openBody(ResponseHead head) {
        return new BodyStream(in, head);
    }

    /** True when the server closed the connection (EOF or reset) within {@code timeoutMs}; data read meanwhile is discarded. */
    public boolean awaitServerClose(int timeoutMs) throws IOException {
        int previous = socket.getSoTimeout();
        socket.setSoTimeout(timeoutMs);
        try {
            byte[] sink = new byte[8192];
            while (in.read(sink) >= 0) {
                // discard
            }
            return true;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (java.net.SocketException e) {
            return true; // reset
        } finally {
            if (!socket.isClosed()) {
                socket.setSoTimeout(previous);
            }
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    /** A CRLF- (or LF-) terminated line as ISO-8859-1, without the terminator; null when the stream ends first. */
    static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(64);
        int b;
        while ((b = in.read()) >= 0) {
            if (b == '\n') {
                int n = line.size();
                byte[] bytes = line.toByteArray();
                return new String(bytes, 0, n > 0 && bytes[n - 1] == '\r' ? n - 1 : n, StandardCharsets.ISO_8859_1);
            }
            line.write(b);
        }
        return null;
    }
}
