package io.streamgate.testing;

import io.streamgate.testing.TestBackend.Responder;

/** Common {@link Responder}s. */
public final class Responders {
    private Responders() {
    }

    /** Waits for the whole request body, then answers {@code status} with {@code text} (text/plain). */
    public static Responder text(int status, String text) {
        return exchange -> {
            exchange.awaitBody(30);
            exchange.respond(status, "text/plain", text);
        };
    }

    /** Answers 200 with "METHOD URI" once the body arrived: tells a test which path the backend saw. */
    public static Responder requestLine() {
        return exchange -> {
            exchange.awaitBody(30);
            exchange.respond(200, "text/plain", exchange.method() + " " + exchange.uri());
        };
    }

    /** Answers 200 with "METHOD URI", and the body after a space when there is one: what the backend received. */
    public static Responder requestLineAndBody() {
        return exchange -> {
            String body = exchange.awaitBody(30).text();
            exchange.respond(200, "text/plain", exchange.method() + " " + exchange.uri() + (body.isEmpty() ? "" : " " + body));
        };
    }

    /** Answers 200 with "NAME METHOD URI": tells a test which backend got the request, and with which path. */
    public static Responder named(String name) {
        return exchange -> {
            exchange.awaitBody(30);
            exchange.respond(200, "text/plain", name + " " + exchange.method() + " " + exchange.uri());
        };
    }

    /** Reads the request and never answers. */
    public static Responder silent() {
        return exchange -> {
        };
    }

    /** Resets the connection as soon as the request head arrived. */
    public static Responder reset() {
        return BackendExchange::reset;
    }
}
