package io.streamgate.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

/** Checks the gateway's own error answers: status, OpenAI error JSON, and an X-Request-Id. */
public final class ErrorResponseAssert {
    private ErrorResponseAssert() {
    }

    /**
     * Asserts {@code response} is {@code status} with body {"error":{"message":"...","type":"...","code":code}},
     * Content-Type application/json and a non-empty X-Request-Id; returns the request id.
     */
    public static String assertError(RawResponse response, int status, String code) {
        assertEquals(status, response.status(), () -> "status of " + response);
        String contentType = response.header("content-type");
        assertNotNull(contentType, () -> "no Content-Type on " + response);
        assertTrue(contentType.toLowerCase().startsWith("application/json"), () -> "Content-Type of " + response);
        String requestId = response.header("x-request-id");
        assertNotNull(requestId, () -> "no X-Request-Id on " + response);
        assertFalse(requestId.isBlank(), () -> "blank X-Request-Id on " + response);

        Map<?, ?> body = assertInstanceOf(Map.class, Json.parse(response.bodyText()), "error body is not a JSON object");
        Map<?, ?> error = assertInstanceOf(Map.class, body.get("error"), () -> "no \"error\" object in " + response.bodyText());
        assertInstanceOf(String.class, error.get("message"), () -> "error.message in " + response.bodyText());
        assertFalse(((String) error.get("message")).isBlank(), () -> "empty error.message in " + response.bodyText());
        assertInstanceOf(String.class, error.get("type"), () -> "error.type in " + response.bodyText());
        assertEquals(code, error.get("code"), () -> "error.code in " + response.bodyText());
        return requestId;
    }
}
