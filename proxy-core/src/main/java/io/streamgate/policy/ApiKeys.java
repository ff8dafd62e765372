package io.streamgate.policy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The configured API keys, each known only by the SHA-256 of its UTF-8 bytes, and the name it stands for.
 *
 * <p>Comparing digests rather than keys means the comparison's timing can at most reveal something about a hash,
 * which says nothing useful about any key; comparing against every digest without stopping at a match keeps the time
 * independent of which key (if any) matched. Keys are never logged: {@link #toString()} lists names only.
 *
 * <p>Immutable and thread-safe.
 */
public final class ApiKeys {
    private static final String BEARER = "bearer";

    private final String[] names;
    private final byte[][] digests;

    /**
     * @param sha256ByName the SHA-256 (32 bytes) of each key by the key's name; arrays are copied
     * @throws IllegalArgumentException if a digest is not 32 bytes
     */
    public ApiKeys(Map<String, byte[]> sha256ByName) {
        Objects.requireNonNull(sha256ByName, "sha256ByName");
        names = new String[sha256ByName.size()];
        digests = new byte[sha256ByName.size()][];
        int i = 0;
        for (Map.Entry<String, byte[]> e : sha256ByName.entrySet()) {
            if (e.getValue().length != 32) {
                throw new IllegalArgumentException("the digest of API key '" + e.getKey() + "' is not 32 bytes");
            }
            names[i] = Objects.requireNonNull(e.getKey(), "name");
            digests[i] = e.getValue().clone();
            i++;
        }
    }

    /** The SHA-256 of the key's UTF-8 bytes: the one hashing rule shared by config loading and request checks. */
    public static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform must provide SHA-256", e);
        }
    }

    /** The name of the key presented, or null when it matches none (or none was presented). */
    public String identify(String presentedKey) {
        if (presentedKey == null || presentedKey.isEmpty()) {
            return null;
        }
        byte[] digest = sha256(presentedKey);
        int match = -1;
        for (int i = 0; i < digests.length; i++) {
            // Deliberately no break: every configured digest is compared, whatever matched.
            if (MessageDigest.isEqual(digests[i], digest)) {
                match = i;
            }
        }
        return match < 0 ? null : names[match];
    }

    /**
     * The key a request presents: the token of {@code Authorization: Bearer <key>} (scheme case-insensitive), else the
     * {@code x-api-key} header; null when neither carries one. Another Authorization scheme (e.g. Basic) is not a key.
     */
    public static String presentedKey(String authorizationHeader, String xApiKeyHeader) {
        if (authorizationHeader != null) {
            String a = authorizationHeader.strip();
            if (a.length() > BEARER.length() && a.regionMatches(true, 0, BEARER, 0, BEARER.length())
                    && (a.charAt(BEARER.length()) == ' ' || a.charAt(BEARER.length()) == '\t')) {
                String token = a.substring(BEARER.length()).strip();
                if (!token.isEmpty()) {
                    return token;
                }
            }
        }
        if (xApiKeyHeader != null) {
            String k = xApiKeyHeader.strip();
            if (!k.isEmpty()) {
                return k;
            }
        }
        return null;
    }

    public boolean isEmpty() {
        return names.length == 0;
    }

    /** Names only; never key material, not even digests. */
    @Override
    public String toString() {
        return "ApiKeys" + List.of(names);
    }
}
