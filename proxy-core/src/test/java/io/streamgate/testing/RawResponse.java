package io.streamgate.testing;

import java.nio.charset.StandardCharsets;

/**
 * A whole response read by {@link RawHttpClient}. {@code complete} is false when the body ended because the
 * connection ended, before its framing said it was done (no terminating chunk, fewer bytes than Content-Length).
 */
public record RawResponse(ResponseHead head, byte[] body, boolean complete) {
    public int status() {
        return head.status();
    }

    public String header(String name) {
        return head.header(name);
    }

    public String bodyText() {
        return new String(body, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return head.status() + " " + head.reason() + " " + head.headers() + " body=" + bodyText();
    }
}
