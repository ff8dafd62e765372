package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The orders and rings the balancers walk, checked directly. */
class BalancingOrderTest {

    @Test
    void smoothWeightedOrderSpreadsTheHeavyEndpointsTurns() {
        assertArrayEquals(new int[] {0, 0, 1, 0, 2, 0, 0}, SmoothWeightedOrder.of(new int[] {5, 1, 1}));
        assertArrayEquals(new int[] {0, 1, 2}, SmoothWeightedOrder.of(new int[] {1, 1, 1}));
        int[] order = SmoothWeightedOrder.of(new int[] {1, 3});
        assertEquals(4, order.length);
        assertEquals(1, java.util.Arrays.stream(order).filter(i -> i == 0).count());
    }

    @Test
    void theRingIsStableSpreadsByWeightAndMovesFewKeysWhenAnEndpointIsAdded() {
        HashRing two = new HashRing(List.of("http://a:1", "http://b:1"), new int[] {1, 3});
        Map<Integer, Integer> counts = new HashMap<>();
        for (int k = 0; k < 10_000; k++) {
            int owner = two.first("key-" + k, i -> true);
            assertEquals(owner, two.first("key-" + k, i -> true), "the same key, the same endpoint");
            counts.merge(owner, 1, Integer::sum);
        }
        // Weight 3 against 1: about 7,500 against 2,500.
        assertTrue(counts.get(1) > 6_800 && counts.get(1) < 8_200, counts.toString());

        HashRing three = new HashRing(List.of("http://a:1", "http://b:1", "http://c:1"), new int[] {1, 3, 1});
        int moved = 0;
        for (int k = 0; k < 10_000; k++) {
            int before = two.first("key-" + k, i -> true);
            int after = three.first("key-" + k, i -> true);
            if (after != before) {
                moved++;
                assertEquals(2, after, "a key only ever moves to the new endpoint");
            }
        }
        assertTrue(moved > 1_000 && moved < 2_500, "about a fifth of the keys move, not all: " + moved);
    }

    @Test
    void aFullEndpointPassesTheKeyToTheNextOneOnTheRing() {
        HashRing ring = new HashRing(List.of("http://a:1", "http://b:1", "http://c:1"), new int[] {1, 1, 1});
        int home = ring.first("session-42", i -> true);
        int spill = ring.first("session-42", i -> i != home);
        assertTrue(spill != home);
        assertEquals(spill, ring.first("session-42", i -> i != home), "the spill is deterministic too");
        assertEquals(home, ring.first("session-42", i -> false), "no room anywhere: the key's own endpoint");
    }
}
