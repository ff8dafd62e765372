package io.streamgate.testing;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Resources a test opened, closed in reverse order of registration (clients, then the proxy, then backends when
 * registered in the order they were made). The first failure is thrown with the later ones suppressed.
 */
public final class Closer implements AutoCloseable {
    private final List<AutoCloseable> resources = new ArrayList<>();

    /** Registers {@code resource} and returns it. */
    public synchronized <T extends AutoCloseable> T add(T resource) {
        resources.add(resource);
        return resource;
    }

    @Override
    public synchronized void close() throws Exception {
        List<AutoCloseable> reversed = new ArrayList<>(resources);
        resources.clear();
        Collections.reverse(reversed);
        Exception first = null;
        for (AutoCloseable resource : reversed) {
            try {
                resource.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
