package io.streamgate.policy;

import java.util.Objects;

/**
 * One header a policy wants on a response, with a lower-case name; copied into Netty headers by the caller, so the
 * policies stay free of Netty types.
 */
public record ResponseHeader(String name, String value) {
    public ResponseHeader {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(value, "value");
    }
}
