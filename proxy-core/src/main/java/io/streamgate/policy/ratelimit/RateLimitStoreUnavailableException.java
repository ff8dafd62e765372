package io.streamgate.policy.ratelimit;

/**
 * The shared rate-limit store could not answer and the failure mode is CLOSED: the request is to be refused
 * (503). Thrown once per refused request while Redis is down, so it carries no stack trace: the cause, when
 * there is one, says what went wrong.
 */
public final class RateLimitStoreUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public RateLimitStoreUnavailableException(String message, Throwable cause) {
        super(message, cause, false, false);
    }
}
