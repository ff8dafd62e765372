package io.streamgate.upstream;

/**
 * One cycle of smooth weighted round robin (the order nginx uses): with weights 5, 1, 1 the cycle is
 * a a b a c a a rather than a a a a a b c, so a heavy endpoint's turns are spread out. Computed once per upstream;
 * a cursor then walks it without locks.
 */
final class SmoothWeightedOrder {
    private SmoothWeightedOrder() {
    }

    static int[] of(int[] weights) {
        int total = 0;
        for (int w : weights) {
            total += w;
        }
        int[] order = new int[total];
        long[] current = new long[weights.length];
        for (int step = 0; step < total; step++) {
            int best = 0;
            for (int i = 0; i < weights.length; i++) {
                current[i] += weights[i];
                if (current[i] > current[best]) {
                    best = i;
                }
            }
            current[best] -= total;
            order[step] = best;
        }
        return order;
    }
}
