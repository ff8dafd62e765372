package io.streamgate.upstream;

import io.netty.handler.codec.http.HttpObject;

/** The exchange currently leasing an upstream connection; called on the connection's (shared) event loop. */
public interface UpstreamListener {
    /** A decoded response part; the listener owns it and must release or pass it on. */
    void onUpstreamMessage(HttpObject msg);

    void onUpstreamReadComplete();

    void onUpstreamWritabilityChanged(boolean writable);

    /** The connection closed or failed; {@code cause} is null for a plain close. */
    void onUpstreamClosed(Throwable cause);
}
