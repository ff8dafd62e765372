package io.streamgate.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;

/**
 * A response body decoded from its HTTP/1.1 framing (chunked, Content-Length, or until close). It returns data
 * as soon as it arrives, so a test can follow a stream event by event, and it tells a body that ended
 * properly from one cut short by the connection ending (EOF or reset). A read timeout still throws.
 */
public final class BodyStream extends InputStream {
    private enum Framing { NONE, CHUNKED, LENGTH, UNTIL_CLOSE }

    private final InputStream in;
    private final Framing framing;
    private long remaining;
    private boolean chunkDataEnded;
    private boolean ended;
    private boolean complete;
    private boolean connectionEnded;

    BodyStream(InputStream in, ResponseHead head) {
        this.in = in;
        int status = head.status();
        if (status / 100 == 1 || status == 204 || status == 304) {
            framing = Framing.NONE;
        } else if (head.isChunked()) {
            framing = Framing.CHUNKED;
        } else if (head.contentLength() >= 0) {
            framing = Framing.LENGTH;
            remaining = head.contentLength();
        } else {
            framing = Framing.UNTIL_CLOSE;
        }
        if (framing == Framing.NONE || framing == Framing.LENGTH && remaining == 0) {
            ended = true;
            complete = true;
        }
    }

    /** The body ended as its framing says (terminating chunk, all Content-Length bytes, or close for unframed bodies). */
    public boolean isComplete() {
        return complete;
    }

    /** The connection ended (EOF or reset) before the body was complete. */
    public boolean connectionEnded() {
        return connectionEnded;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (ended) {
            return -1;
        }
        if (len == 0) {
            return 0;
        }
        try {
            return switch (framing) {
                case LENGTH -> readLength(b, off, len);
                case CHUNKED -> readChunked(b, off, len);
                default -> readUntilClose(b, off, len);
            };
        } catch (SocketException reset) {
            ended = true;
            connectionEnded = true;
            return -1;
        }
    }

    private int readLength(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, (int) Math.min(len, remaining));
        if (n < 0) {
            return endedByConnection();
        }
        remaining -= n;
        if (remaining == 0) {
            ended = true;
            complete = true;
        }
        return n;
    }

    private int readUntilClose(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n < 0) {
            ended = true;
            complete = true;
        }
        return n;
    }

    private int readChunked(byte[] b, int off, int len) throws IOException {
        if (remaining == 0) {
            if (chunkDataEnded) {
                // The CRLF after a chunk's data is read lazily, so a chunk is returned as soon as its data arrived.
                String crlf = RawHttpClient.readLine(in);
                if (crlf == null) {
                    return endedByConnection();
                }
                if (!crlf.isEmpty()) {
                    throw new IOException("malformed chunked body: expected CRLF after chunk data, got '" + crlf + "'");
                }
                chunkDataEnded = false;
            }
            String sizeLine = RawHttpClient.readLine(in);
            if (sizeLine == null) {
                return endedByConnection();
            }
            int semicolon = sizeLine.indexOf(';');
            long size = Long.parseLong((semicolon >= 0 ? sizeLine.substring(0, semicolon) : sizeLine).trim(), 16);
            if (size == 0) {
                for (String trailer = RawHttpClient.readLine(in); ; trailer = RawHttpClient.readLine(in)) {
                    if (trailer == null) {
                        return endedByConnection();
                    }
                    if (trailer.isEmpty()) {
                        break;
                    }
                }
                ended = true;
                complete = true;
                return -1;
            }
            remaining = size;
        }
        int n = in.read(b, off, (int) Math.min(len, remaining));
        if (n < 0) {
            return endedByConnection();
        }
        remaining -= n;
        chunkDataEnded = remaining == 0;
        return n;
    }

    private int endedByConnection() {
        ended = true;
        connectionEnded = true;
        return -1;
    }

    /** The next line of the body without its line end, or null when the body ended before a whole line. */
    public String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(64);
        int c;
        while ((c = read()) >= 0) {
            if (c == '\n') {
                String text = line.toString(StandardCharsets.UTF_8);
                return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
            }
            line.write(c);
        }
        return null;
    }

    /** The next server-sent event: its lines up to the blank line, joined by "\n"; null when the body ends first. */
    public String readEvent() throws IOException {
        StringBuilder event = new StringBuilder();
        for (String line = readLine(); line != null; line = readLine()) {
            if (line.isEmpty()) {
                if (event.length() > 0) {
                    return event.toString();
                }
                continue;
            }
            if (event.length() > 0) {
                event.append('\n');
            }
            event.append(line);
        }
        return null;
    }
}
