package io.streamgate.testing;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One request sent on its own new client connection, whose response is read on a daemon thread: a test can keep
 * many requests waiting at once (held by a backend, queued by the gateway) and look at each answer when it comes,
 * or check whether it came yet. Reads fail after 20 s without data. {@link #close()} closes the connection.
 */
public final class InFlightRequest implements AutoCloseable {
    private final RawHttpClient client;
    private final String target;
    private final CompletableFuture<RawResponse> response = new CompletableFuture<>();

    private InFlightRequest(RawHttpClient client, String target) {
        this.client = client;
        this.target = target;
    }

    /** Sends {@code rawRequest} (see {@link RawHttpClient#request}) to 127.0.0.1:{@code port}. */
    public static InFlightRequest send(int port, String target, String rawRequest) throws IOException {
        RawHttpClient client = RawHttpClient.connect(port);
        client.socket().setSoTimeout(20_000);
        InFlightRequest request = new InFlightRequest(client, target);
        client.send(rawRequest);
        Thread reader = new Thread(() -> {
            try {
                request.response.complete(client.readResponse());
            } catch (Throwable t) {
                request.response.completeExceptionally(t);
            }
        }, "in-flight " + target);
        reader.setDaemon(true);
        reader.start();
        return request;
    }

    /** A GET of {@code target} with the given extra header lines. */
    public static InFlightRequest get(int port, String target, String... headerLines) throws IOException {
        return send(port, target, RawHttpClient.request("GET", target, null, headerLines));
    }

    /** A POST of {@code body} (Content-Length) to {@code target} with the given extra header lines. */
    public static InFlightRequest post(int port, String target, String body, String... headerLines) throws IOException {
        return send(port, target, RawHttpClient.request("POST", target, body, headerLines));
    }

    public String target() {
        return target;
    }

    public CompletableFuture<RawResponse> response() {
        return response;
    }

    /** Whether the whole response (or a read failure) arrived. */
    public boolean isDone() {
        return response.isDone();
    }

    /** The response; fails when none arrives within {@code timeoutMillis}. */
    public RawResponse await(long timeoutMillis) throws Exception {
        try {
            return response.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("no response to " + target + " within " + timeoutMillis + " ms");
        }
    }

    @Override
    public void close() throws IOException {
        client.close();
    }

    @Override
    public String toString() {
        return target + (response.isDone() ? " (answered)" : " (waiting)");
    }
}
