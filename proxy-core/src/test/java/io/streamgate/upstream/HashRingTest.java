package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.Test;

class HashRingTest {
    private static List<String> names(int n) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            names.add("http://10.0.0." + i + ":8000");
        }
        return names;
    }

    @Test
    void aSmallUpstreamGets160PointsPerUnitOfWeight() {
        assertEquals(4 * 160, new HashRing(names(2), new int[] {1, 3}).size());
    }

    /** 64 endpoints of weight 1000 made 10,240,000 points (hundreds of MB while a reload built the ring). */
    @Test
    void theRingIsBoundedWhateverTheWeights() {
        int[] weights = new int[64];
        Arrays.fill(weights, 1000);
        HashRing ring = new HashRing(names(64), weights);
        assertTrue(ring.size() <= HashRing.MAX_POINTS, () -> ring.size() + " points");
        assertEquals(64_000, ring.size(), "one point per unit of weight at the most");
    }

    /** Above the cap every unit of weight still gets the same number of points, so keys follow the weights. */
    @Test
    void aBoundedRingKeepsTheWeightsRatios() {
        HashRing ring = new HashRing(names(2), new int[] {1000, 250});
        assertTrue(ring.size() <= HashRing.MAX_POINTS, () -> ring.size() + " points");
        int[] hits = new int[2];
        int keys = 100_000;
        for (int k = 0; k < keys; k++) {
            hits[ring.first("key-" + k, i -> true)]++;
        }
        double share = (double) hits[0] / keys;
        assertEquals(0.8, share, 0.03, "weight 1000 of 1250 should take about 80% of the keys");
    }

    /**
     * With no endpoint having room the walk asks every endpoint once, the key's own first, and falls back to it; on
     * 64 endpoints too, where the last one is the top bit of the walk's mask.
     */
    @Test
    void theWalkAsksEveryEndpointOnceThenFallsBackToTheKeysOwn() {
        for (int n : new int[] {1, 3, 63, 64}) {
            HashRing ring = new HashRing(names(n), weightsOfOne(n));
            for (int k = 0; k < 50; k++) {
                String key = "key-" + k;
                int home = ring.first(key, i -> true);
                List<Integer> asked = new ArrayList<>();
                assertEquals(home, ring.first(key, i -> !asked.add(i)), "none has room: the key's own");
                assertEquals(n, asked.size(), () -> "asked " + asked);
                assertEquals(n, new HashSet<>(asked).size(), () -> "asked " + asked);
                assertEquals(home, asked.get(0));
                int last = asked.get(n - 1);
                assertEquals(last, ring.first(key, i -> i == last), "the only one with room is found, however far");
            }
        }
    }

    /** The walk runs for every request of a consistent_hash upstream: it allocated a boolean[] per call. */
    @Test
    void choosingAllocatesNothing() {
        assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean);
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled());
        HashRing ring = new HashRing(names(4), weightsOfOne(4));
        String[] keys = new String[10_000];
        for (int k = 0; k < keys.length; k++) {
            keys[k] = "key-" + k;
        }
        int only = 3;
        IntPredicate hasRoom = i -> i == only; // most keys walk past other endpoints to it
        int found = 0;
        for (String key : keys) {
            found += ring.first(key, hasRoom); // loads and links everything the measured calls use
        }
        long before = threads.getCurrentThreadAllocatedBytes();
        for (String key : keys) {
            found += ring.first(key, hasRoom);
        }
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertEquals(2 * keys.length * only, found);
        assertTrue(allocated < keys.length, () -> allocated + " bytes allocated by " + keys.length + " calls");
    }

    private static int[] weightsOfOne(int n) {
        int[] weights = new int[n];
        Arrays.fill(weights, 1);
        return weights;
    }
}
