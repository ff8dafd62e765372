package io.streamgate.policy.cache;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/**
 * The digest of a request body that goes into a POST's cache key: 64 lowercase hex characters of SHA-256. Stateless
 * and thread-safe.
 *
 * <p>Clients serialise the same request differently (member order, spacing), so a JSON object or array body is first
 * reduced to a canonical form: object members sorted by name (members with equal names keep their order, since
 * "last one wins" readers depend on it), whitespace dropped, array order kept, strings compared by their decoded
 * value and numbers by their text as written ({@code 1} and {@code 1.0} stay different: the backend may not treat
 * them alike). Anything else (form bodies, scalars, invalid or trailing-garbage JSON, nesting deeper than
 * {@value #MAX_DEPTH}) is digested raw. The two inputs are domain-separated by a leading byte, so a raw body can never
 * collide with the canonical form of another.
 *
 * <p>The canonical form is a binary encoding, not JSON text: a tag byte per value, strings and numbers length-prefixed
 * and written char by char in a prefix-free UTF-8 style. Decodable, hence injective, and cheaper than re-escaping.
 */
public final class BodyDigest {
    /** Deep enough for any chat or embeddings request, shallow enough that the recursion below stays small. */
    static final int MAX_DEPTH = 64;

    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
            .build();
    private static final MessageDigest SHA256_PROTOTYPE = sha256();
    private static final HexFormat HEX = HexFormat.of();

    private static final byte DOMAIN_RAW = 'r';
    private static final byte DOMAIN_CANONICAL = 'j';
    private static final byte OBJECT = '{';
    private static final byte OBJECT_END = '}';
    private static final byte ARRAY = '[';
    private static final byte ARRAY_END = ']';
    private static final byte MEMBER = ':';
    private static final byte STRING = 's';
    private static final byte NUMBER = 'n';
    private static final byte TRUE = 't';
    private static final byte FALSE = 'f';
    private static final byte NULL = 'z';

    private BodyDigest() {
    }

    /** @param length how many leading bytes of {@code body} are the body */
    public static String of(byte[] body, int length) {
        Objects.checkFromIndexSize(0, length, body.length);
        MessageDigest sha = newSha256();
        Canonical canonical = looksLikeJsonContainer(body, length) ? canonicalize(body, length) : null;
        if (canonical != null) {
            sha.update(DOMAIN_CANONICAL);
            sha.update(canonical.bytes, 0, canonical.size);
        } else {
            sha.update(DOMAIN_RAW);
            sha.update(body, 0, length);
        }
        return HEX.formatHex(sha.digest());
    }

    /** Skips the parser for bodies that cannot be a JSON object or array (forms, plain text, binary). */
    private static boolean looksLikeJsonContainer(byte[] body, int length) {
        for (int i = 0; i < length; i++) {
            byte b = body[i];
            if (b != ' ' && b != '\t' && b != '\n' && b != '\r') {
                return b == '{' || b == '[';
            }
        }
        return false;
    }

    /** The canonical form, or null when the body is not exactly one well-formed JSON value within the limits. */
    private static Canonical canonicalize(byte[] body, int length) {
        try (JsonParser parser = JSON.createParser(body, 0, length)) {
            // Tags and length prefixes add a little; dropped whitespace usually makes up for it.
            Canonical out = new Canonical(length + (length >> 2) + 64);
            value(parser, parser.nextToken(), out);
            return parser.nextToken() == null ? out : null;
        } catch (IOException e) {
            // Malformed JSON or a broken stream constraint (depth): not JSON we normalise, so digest it raw.
            return null;
        }
    }

    private static void value(JsonParser parser, JsonToken token, Canonical out) throws IOException {
        if (token == null) {
            throw new IOException("end of input where a JSON value was expected");
        }
        switch (token) {
            case START_OBJECT -> object(parser, out);
            case START_ARRAY -> {
                out.write(ARRAY);
                JsonToken t;
                while ((t = parser.nextToken()) != JsonToken.END_ARRAY) {
                    value(parser, t, out);
                }
                out.write(ARRAY_END);
            }
            case VALUE_STRING -> out.writeText(STRING, parser);
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> out.writeText(NUMBER, parser);
            case VALUE_TRUE -> out.write(TRUE);
            case VALUE_FALSE -> out.write(FALSE);
            case VALUE_NULL -> out.write(NULL);
            default -> throw new IOException("unexpected JSON token " + token);
        }
    }

    /** Writes members as they come, then reorders the written segments by name if they were not already sorted. */
    private static void object(JsonParser parser, Canonical out) throws IOException {
        out.write(OBJECT);
        int membersStart = out.size;
        List<Member> members = new ArrayList<>();
        boolean sorted = true;
        String previous = null;
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String name = parser.currentName();
            int from = out.size;
            out.writeText(MEMBER, parser);
            value(parser, parser.nextToken(), out);
            members.add(new Member(name, from, out.size));
            if (previous != null && previous.compareTo(name) > 0) {
                sorted = false;
            }
            previous = name;
        }
        if (!sorted) {
            byte[] written = Arrays.copyOfRange(out.bytes, membersStart, out.size);
            members.sort(Comparator.comparing(Member::name));
            out.size = membersStart;
            for (Member m : members) {
                out.write(written, m.from - membersStart, m.to - m.from);
            }
        }
        out.write(OBJECT_END);
    }

    /** One object member: its name and where its encoding (name and value) lies in the output. */
    private record Member(String name, int from, int to) {
    }

    /** A growable byte array; the canonical form of one body. */
    private static final class Canonical {
        byte[] bytes;
        int size;

        Canonical(int capacity) {
            bytes = new byte[capacity];
        }

        void write(byte b) {
            ensure(1);
            bytes[size++] = b;
        }

        void write(byte[] src, int offset, int length) {
            ensure(length);
            System.arraycopy(src, offset, bytes, size, length);
            size += length;
        }

        /**
         * Tag, char count, then each UTF-16 unit in 1-3 bytes (UTF-8 style, surrogates encoded singly): prefix-free,
         * so the result decodes back to the exact chars.
         */
        void writeText(byte tag, JsonParser parser) throws IOException {
            char[] chars = parser.getTextCharacters();
            int offset = parser.getTextOffset();
            int length = parser.getTextLength();
            // Room for the ASCII case; a wider char makes room for itself and the rest.
            ensure(5 + length);
            byte[] out = bytes;
            int at = size;
            out[at++] = tag;
            out[at++] = (byte) (length >>> 24);
            out[at++] = (byte) (length >>> 16);
            out[at++] = (byte) (length >>> 8);
            out[at++] = (byte) length;
            for (int i = offset, end = offset + length; i < end; i++) {
                char c = chars[i];
                if (c < 0x80) {
                    out[at++] = (byte) c;
                    continue;
                }
                size = at;
                ensure(end - i + 2);
                out = bytes;
                if (c < 0x800) {
                    out[at++] = (byte) (0xC0 | (c >> 6));
                    out[at++] = (byte) (0x80 | (c & 0x3F));
                } else {
                    out[at++] = (byte) (0xE0 | (c >> 12));
                    out[at++] = (byte) (0x80 | ((c >> 6) & 0x3F));
                    out[at++] = (byte) (0x80 | (c & 0x3F));
                }
            }
            size = at;
        }

        private void ensure(int more) {
            if (size + more > bytes.length) {
                bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + more));
            }
        }
    }

    /** Cloning skips the provider lookup that {@link MessageDigest#getInstance} does on every call. */
    private static MessageDigest newSha256() {
        try {
            return (MessageDigest) SHA256_PROTOTYPE.clone();
        } catch (CloneNotSupportedException e) {
            return sha256();
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform must provide SHA-256", e);
        }
    }
}
