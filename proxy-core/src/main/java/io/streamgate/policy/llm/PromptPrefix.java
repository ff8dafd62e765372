package io.streamgate.policy.llm;

import java.nio.charset.StandardCharsets;

/**
 * The start of a JSON body's conversation, as a consistent-hash key: the 256 bytes from the root object's
 * {@code "messages"} (chat) or {@code "prompt"} (completions) member on. Requests that share a system prompt and
 * history share this prefix, so they reach the replica whose prefix cache already holds it. The member is found by
 * parsing the root object, as {@link LlmRequest} reads it: a byte scan took the first {@code "messages"} anywhere,
 * so a string or a nested object spelling it (a tool's parameter named {@code prompt}, a user field quoting a
 * request) moved the key. The key is the member's own bytes, not a re-serialisation: it only has to be stable, and
 * those bytes are what the prefix cache keys on too.
 */
public final class PromptPrefix {
    static final int LENGTH = 256;

    private PromptPrefix() {
    }

    /**
     * The key of {@code body}, as {@code request} read it ({@link LlmRequest#peek}, which notes where the root's
     * member is, so the body is parsed once), or null when the root object has neither member or the body is no JSON
     * object ({@code request} null).
     */
    public static String of(byte[] body, LlmRequest request) {
        int at = request == null ? -1 : request.conversationFrom();
        if (at < 0) {
            return null;
        }
        while (at < body.length && body[at] != '"') {
            at++; // past the comma and white space before the member's name
        }
        return new String(body, at, Math.min(LENGTH, body.length - at), StandardCharsets.ISO_8859_1);
    }
}
