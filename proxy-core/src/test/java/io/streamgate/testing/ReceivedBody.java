package io.streamgate.testing;

import java.nio.charset.StandardCharsets;

/**
 * A request body as the backend received it: its length and SHA-256 (hex), and its first bytes as text for
 * assertions on small bodies.
 */
public record ReceivedBody(long length, String sha256, byte[] head) {
    public String text() {
        return new String(head, StandardCharsets.UTF_8);
    }
}
