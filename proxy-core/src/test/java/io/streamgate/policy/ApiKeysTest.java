package io.streamgate.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ApiKeysTest {
    private static final String ALICE_KEY = "sk-alice-0123456789";
    private static final String BOB_KEY = "sk-bob-abcdef";

    private static ApiKeys keys() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("alice", ApiKeys.sha256(ALICE_KEY));
        m.put("bob", ApiKeys.sha256(BOB_KEY));
        return new ApiKeys(m);
    }

    @Test
    void sha256IsOfTheUtf8Bytes() {
        // printf %s test | sha256sum
        assertEquals("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", HexFormat.of().formatHex(ApiKeys.sha256("test")));
    }

    @Test
    void identifiesKeysByName() {
        ApiKeys keys = keys();
        assertEquals("alice", keys.identify(ALICE_KEY));
        assertEquals("bob", keys.identify(BOB_KEY));
        assertNull(keys.identify("sk-alice-012345678"));
        assertNull(keys.identify(ALICE_KEY + " "));
        assertNull(keys.identify(""));
        assertNull(keys.identify(null));
        assertFalse(keys.isEmpty());
        assertTrue(new ApiKeys(Map.of()).isEmpty());
        assertNull(new ApiKeys(Map.of()).identify(ALICE_KEY));
    }

    @Test
    void digestsAreCopiedIn() {
        byte[] digest = ApiKeys.sha256(ALICE_KEY);
        ApiKeys keys = new ApiKeys(Map.of("alice", digest));
        digest[0] ^= 1;
        assertEquals("alice", keys.identify(ALICE_KEY));
    }

    @Test
    void refusesDigestsOfTheWrongLength() {
        assertThrows(IllegalArgumentException.class, () -> new ApiKeys(Map.of("x", new byte[20])));
    }

    @Test
    void toStringNamesOnly() {
        String s = keys().toString();
        assertEquals("ApiKeys[alice, bob]", s);
    }

    @Test
    void presentedKeyFromBearerOrXApiKey() {
        assertEquals("k1", ApiKeys.presentedKey("Bearer k1", null));
        assertEquals("k1", ApiKeys.presentedKey("bearer k1", null));
        assertEquals("k1", ApiKeys.presentedKey("BEARER   k1  ", null));
        assertEquals("k1", ApiKeys.presentedKey("Bearer\tk1", null));
        assertEquals("k1", ApiKeys.presentedKey("Bearer k1", "k2"), "Authorization wins when both are sent");
        assertEquals("k2", ApiKeys.presentedKey(null, "k2"));
        assertEquals("k2", ApiKeys.presentedKey(null, " k2 "));
        assertEquals("k2", ApiKeys.presentedKey("Basic dXNlcjpwYXNz", "k2"), "another scheme is not a key");
        assertEquals("k2", ApiKeys.presentedKey("Bearer ", "k2"));
        assertNull(ApiKeys.presentedKey("Basic dXNlcjpwYXNz", null));
        assertNull(ApiKeys.presentedKey("Bearerk1", null));
        assertNull(ApiKeys.presentedKey("Bearer", null));
        assertNull(ApiKeys.presentedKey("", ""));
        assertNull(ApiKeys.presentedKey(null, null));
    }
}
