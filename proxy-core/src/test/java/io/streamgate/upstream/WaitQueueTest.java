package io.streamgate.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class WaitQueueTest {
    private static WaitQueue.Waiter waiter(String identity, int weight, int priority) {
        return new WaitQueue.Waiter(identity, weight, priority, null, 0, null, i -> { });
    }

    private static List<String> drain(WaitQueue q) {
        List<String> order = new ArrayList<>();
        WaitQueue.Waiter w;
        while ((w = q.poll()) != null) {
            order.add(w.identity);
        }
        return order;
    }

    @Test
    void fifoServesInArrivalOrder() {
        WaitQueue q = new WaitQueue(10, false);
        for (String id : List.of("a", "a", "a", "b", "c")) {
            assertTrue(q.offer(waiter(id, 1, 0)));
        }
        assertEquals(List.of("a", "a", "a", "b", "c"), drain(q));
    }

    @Test
    void boundedByCapacity() {
        WaitQueue q = new WaitQueue(2, true);
        assertTrue(q.offer(waiter("a", 1, 0)));
        assertTrue(q.offer(waiter("a", 1, 0)));
        assertFalse(q.offer(waiter("b", 1, 0)));
        assertEquals(2, q.size());
    }

    @Test
    void fairModeInterleavesABurstWithALateComer() {
        WaitQueue q = new WaitQueue(100, true);
        for (int i = 0; i < 6; i++) {
            q.offer(waiter("burst", 1, 0));
        }
        q.offer(waiter("late", 1, 0));
        q.offer(waiter("late", 1, 0));
        // The late identity's two requests are served within the first four, not after the burst's six.
        List<String> order = drain(q);
        assertEquals(8, order.size());
        assertTrue(order.subList(0, 4).stream().filter("late"::equals).count() == 2, order.toString());
    }

    @Test
    void weightsShareInProportion() {
        WaitQueue q = new WaitQueue(100, true);
        for (int i = 0; i < 30; i++) {
            q.offer(waiter("heavy", 3, 0));
            q.offer(waiter("light", 1, 0));
        }
        List<String> first = drain(q).subList(0, 20);
        long heavy = first.stream().filter("heavy"::equals).count();
        assertEquals(15, heavy, first.toString()); // 3:1 while both wait
    }

    @Test
    void higherPriorityAlwaysFirst() {
        WaitQueue q = new WaitQueue(100, true);
        q.offer(waiter("low", 1, 0));
        q.offer(waiter("low", 1, 0));
        q.offer(waiter("high", 1, 5));
        assertEquals(List.of("high", "low", "low"), drain(q));
    }

    @Test
    void removedWaiterIsNotServed() {
        WaitQueue q = new WaitQueue(10, true);
        WaitQueue.Waiter a = waiter("a", 1, 0);
        q.offer(a);
        q.offer(waiter("b", 1, 0));
        assertTrue(q.remove(a));
        assertFalse(q.remove(a));
        assertEquals(List.of("b"), drain(q));
        assertNull(q.poll());
    }
}
