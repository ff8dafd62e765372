package io.streamgate.server;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * Every answer the gateway gives on its own, with the OpenAI error {@code type} and {@code code} that SDK clients
 * display, so a failure reads the same whether it came from the backend or from us.
 */
public enum ProxyError {
    BAD_REQUEST(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", "bad_request"),
    INVALID_API_KEY(HttpResponseStatus.UNAUTHORIZED, "authentication_error", "invalid_api_key"),
    IP_DENIED(HttpResponseStatus.FORBIDDEN, "permission_error", "ip_denied"),
    CORS_ORIGIN_DENIED(HttpResponseStatus.FORBIDDEN, "permission_error", "cors_origin_denied"),
    ROUTE_NOT_FOUND(HttpResponseStatus.NOT_FOUND, "not_found_error", "route_not_found"),
    MODEL_NOT_FOUND(HttpResponseStatus.NOT_FOUND, "invalid_request_error", "model_not_found"),
    METHOD_NOT_ALLOWED(HttpResponseStatus.METHOD_NOT_ALLOWED, "invalid_request_error", "method_not_allowed"),
    REQUEST_TIMEOUT(HttpResponseStatus.REQUEST_TIMEOUT, "invalid_request_error", "request_timeout"),
    BODY_TOO_LARGE(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "invalid_request_error", "body_too_large"),
    REQUEST_LINE_TOO_LONG(HttpResponseStatus.REQUEST_URI_TOO_LONG, "invalid_request_error", "request_line_too_long"),
    HEADERS_TOO_LARGE(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "invalid_request_error", "headers_too_large"),
    RATE_LIMITED(HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limit_error", "rate_limit_exceeded"),
    TOO_MANY_CONCURRENT(HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limit_error", "too_many_concurrent_requests"),
    RATE_LIMIT_STORE_UNAVAILABLE(HttpResponseStatus.SERVICE_UNAVAILABLE, "server_error", "rate_limit_store_unavailable"),
    EXPECTATION_FAILED(HttpResponseStatus.EXPECTATION_FAILED, "invalid_request_error", "expectation_failed"),
    UPSTREAM_UNAVAILABLE(HttpResponseStatus.BAD_GATEWAY, "upstream_error", "upstream_unavailable"),
    UPSTREAM_BAD_RESPONSE(HttpResponseStatus.BAD_GATEWAY, "upstream_error", "upstream_bad_response"),
    POOL_EXHAUSTED(HttpResponseStatus.SERVICE_UNAVAILABLE, "upstream_error", "upstream_pool_exhausted"),
    NO_HEALTHY_UPSTREAM(HttpResponseStatus.SERVICE_UNAVAILABLE, "upstream_error", "no_healthy_upstream"),
    UPSTREAM_QUEUE_FULL(HttpResponseStatus.SERVICE_UNAVAILABLE, "upstream_error", "upstream_queue_full"),
    UPSTREAM_QUEUE_TIMEOUT(HttpResponseStatus.SERVICE_UNAVAILABLE, "upstream_error", "upstream_queue_timeout"),
    MODEL_LIST_UNAVAILABLE(HttpResponseStatus.SERVICE_UNAVAILABLE, "upstream_error", "model_list_unavailable"),
    SHUTTING_DOWN(HttpResponseStatus.SERVICE_UNAVAILABLE, "server_error", "shutting_down"),
    UPSTREAM_TIMEOUT(HttpResponseStatus.GATEWAY_TIMEOUT, "timeout_error", "upstream_timeout");

    private final HttpResponseStatus status;
    private final String type;
    private final String code;

    ProxyError(HttpResponseStatus status, String type, String code) {
        this.status = status;
        this.type = type;
        this.code = code;
    }

    public HttpResponseStatus status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String code() {
        return code;
    }
}
