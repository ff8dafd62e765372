package io.streamgate.upstream;

import java.util.Arrays;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * A consistent-hash ring: each endpoint appears at {@value #POINTS_PER_WEIGHT} points per unit of weight, so keys
 * spread in proportion to weight and adding or removing an endpoint moves only its share of keys. Immutable.
 *
 * <p>The ring holds at most {@value #MAX_POINTS} points. Weights go up to 1000 and endpoints to 64, so 160 points per
 * unit would be over ten million points (and a ring built on every reload); above the cap each unit of weight gets
 * fewer points, the same number for every endpoint, so shares keep the weights' ratios, and never fewer than one.
 * An endpoint's points are always its first ones ({@code name#0}, {@code name#1}, ...), so a change in the count
 * moves only the keys of the points added or dropped.
 */
final class HashRing {
    private static final int POINTS_PER_WEIGHT = 160;
    /** 160 points per unit up to a total weight of 409; 64 endpoints of weight 1000 (64,000) get one per unit. */
    static final int MAX_POINTS = 65_536;

    private final long[] points;
    private final int[] owners;
    /** The bits of every endpoint: {@link #first} has asked them all once its mask of endpoints asked equals this. */
    private final long everyEndpoint;

    /** @param names at most 64, so that {@link #first} can remember the endpoints it asked as the bits of a long */
    HashRing(List<String> names, int[] weights) {
        if (names.size() > Long.SIZE) {
            throw new IllegalArgumentException(names.size() + " endpoints: a ring takes at most " + Long.SIZE);
        }
        int weightSum = 0;
        for (int w : weights) {
            weightSum += w;
        }
        int perWeight = Math.max(1, Math.min(POINTS_PER_WEIGHT, MAX_POINTS / weightSum));
        int total = weightSum * perWeight;
        long[][] pairs = new long[total][];
        int k = 0;
        for (int i = 0; i < names.size(); i++) {
            for (int v = 0; v < weights[i] * perWeight; v++) {
                pairs[k++] = new long[] {hash(names.get(i) + "#" + v), i};
            }
        }
        Arrays.sort(pairs, (a, b) -> Long.compare(a[0], b[0]));
        this.points = new long[total];
        this.owners = new int[total];
        for (int j = 0; j < total; j++) {
            points[j] = pairs[j][0];
            owners[j] = (int) pairs[j][1];
        }
        this.everyEndpoint = names.size() == Long.SIZE ? -1L : (1L << names.size()) - 1;
    }

    /** Points on the ring. */
    int size() {
        return points.length;
    }

    /** The first endpoint clockwise from {@code key}'s point that {@code hasRoom}; the key's own if none has. */
    int first(String key, IntPredicate hasRoom) {
        int at = Arrays.binarySearch(points, hash(key));
        if (at < 0) {
            at = -at - 1;
        }
        int home = owners[at % points.length];
        // A mask in a local, not an array: this runs for every request of a consistent_hash upstream.
        long asked = 0;
        for (int step = 0; step < points.length && asked != everyEndpoint; step++) {
            int owner = owners[(at + step) % points.length];
            long bit = 1L << owner;
            if ((asked & bit) == 0) {
                asked |= bit;
                if (hasRoom.test(owner)) {
                    return owner;
                }
            }
        }
        return home;
    }

    /** FNV-1a over the characters, then a 64-bit finaliser so nearby strings land far apart on the ring. */
    static long hash(String s) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < s.length(); i++) {
            h ^= s.charAt(i);
            h *= 0x100000001b3L;
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }
}
