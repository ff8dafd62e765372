package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
}
