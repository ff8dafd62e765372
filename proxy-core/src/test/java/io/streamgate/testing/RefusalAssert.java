package io.streamgate.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

/**
 * Checks a refusal the gateway answers itself when it will not (or cannot yet) send a request upstream: the status,
 * an OpenAI error JSON body and a {@code Retry-After} of whole seconds. For refusals whose error code the
 * documentation does not fix (a full or timed-out wait queue); use {@link ErrorResponseAssert} where it does.
 */
public final class RefusalAssert {
    private RefusalAssert() {
    }

    /** Asserts {@code status}, an {"error":{...}} JSON body and a numeric Retry-After; returns the error object. */
    public static Map<?, ?> assertRefusedWithRetryAfter(RawResponse response, int status) {
        assertEquals(status, response.status(), () -> "status of " + response);
        String contentType = response.header("content-type");
        assertNotNull(contentType, () -> "no Content-Type on " + response);
        assertTrue(contentType.toLowerCase().startsWith("application/json"), () -> "Content-Type of " + response);
        Map<?, ?> body = assertInstanceOf(Map.class, Json.parse(response.bodyText()), "error body is not a JSON object");
        Map<?, ?> error = assertInstanceOf(Map.class, body.get("error"), () -> "no \"error\" object in " + response);
        assertInstanceOf(String.class, error.get("code"), () -> "error.code in " + response);
        assertRetryAfter(response);
        return error;
    }

    /** Asserts a Retry-After header holding delta-seconds. */
    public static void assertRetryAfter(RawResponse response) {
        String retryAfter = response.header("retry-after");
        assertNotNull(retryAfter, () -> "no Retry-After on " + response);
        assertTrue(retryAfter.matches("\\d+"), () -> "Retry-After is not a number of seconds: " + response);
    }
}
