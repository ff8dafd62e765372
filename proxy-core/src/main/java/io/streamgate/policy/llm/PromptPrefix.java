package io.streamgate.policy.llm;

import java.nio.charset.StandardCharsets;

/**
 * The start of a JSON body's conversation, as a consistent-hash key: the 256 bytes from its {@code "messages"} (chat)
 * or {@code "prompt"} (completions) field on. Requests that share a system prompt and history share this prefix,
 * so they reach the replica whose prefix cache already holds it. A byte scan, not a parse: the key only has to be
 * stable, and the field's own bytes are what the prefix cache keys on too.
 */
public final class PromptPrefix {
    static final int LENGTH = 256;
    private static final byte[] MESSAGES = "\"messages\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] PROMPT = "\"prompt\"".getBytes(StandardCharsets.US_ASCII);

    private PromptPrefix() {
    }

    /** The key, or null when the body has neither field. */
    public static String of(byte[] body, int length) {
        int at = indexOf(body, length, MESSAGES);
        if (at < 0) {
            at = indexOf(body, length, PROMPT);
        }
        if (at < 0) {
            return null;
        }
        return new String(body, at, Math.min(LENGTH, length - at), StandardCharsets.ISO_8859_1);
    }

    private static int indexOf(byte[] body, int length, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (body[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
