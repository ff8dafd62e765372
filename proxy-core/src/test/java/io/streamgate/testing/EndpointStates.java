package io.streamgate.testing;

import io.streamgate.Streamgate;
import java.util.Map;

/**
 * Reads an endpoint's health state ("healthy", "unhealthy", "ejected", "open", "half_open", "slow_start") and
 * availability from {@link Streamgate#endpointStates()}, finding the endpoint by port (the map's keys are endpoint
 * URLs such as {@code http://127.0.0.1:PORT}).
 */
public final class EndpointStates {
    private EndpointStates() {
    }

    /** The state name of the endpoint listening on {@code port}. */
    public static String state(Streamgate gateway, int port) {
        return find(gateway, port).state();
    }

    /** Whether the endpoint listening on {@code port} may receive requests now. */
    public static boolean available(Streamgate gateway, int port) {
        return find(gateway, port).available();
    }

    /** Waits until the endpoint on {@code port} reports {@code state}; fails after {@code timeoutMillis}. */
    public static void awaitState(Streamgate gateway, int port, String state, long timeoutMillis) throws InterruptedException {
        Poll.until(() -> state.equals(state(gateway, port)), timeoutMillis,
                () -> "endpoint :" + port + " in state " + state + "; it is " + state(gateway, port) + " ("
                        + gateway.endpointStates() + ")");
    }

    private static Streamgate.EndpointState find(Streamgate gateway, int port) {
        Map<String, Streamgate.EndpointState> states = gateway.endpointStates();
        for (Map.Entry<String, Streamgate.EndpointState> e : states.entrySet()) {
            if (e.getKey().endsWith(":" + port)) {
                return e.getValue();
            }
        }
        throw new AssertionError("no endpoint on port " + port + " in " + states.keySet());
    }
}
