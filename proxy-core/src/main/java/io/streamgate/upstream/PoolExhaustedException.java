package io.streamgate.upstream;

/** No connection could be leased in time, or too many requests already wait: the client gets 503. */
public final class PoolExhaustedException extends Exception {
    public PoolExhaustedException(String message) {
        super(message, null, false, false);
    }
}
