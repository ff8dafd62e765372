package io.streamgate.server;

import io.netty.handler.codec.http.HttpHeaders;
import io.streamgate.config.RateLimitConfig;

/** Which bucket of a rule a request draws from. */
final class RateLimitKeys {
    /** Every request without the rule's header shares one bucket, so leaving the header out is no way around it. */
    private static final String NO_HEADER = "";

    private RateLimitKeys() {
    }

    /**
     * @param identity the API key's name, or null for an anonymous request (which is then limited by its address)
     */
    static String of(RateLimitConfig rule, String route, String identity, String clientIp, HttpHeaders request) {
        switch (rule.key()) {
            case CLIENT_IP:
                return clientIp;
            case API_KEY:
                return identity != null ? identity : "ip:" + clientIp;
            case ROUTE:
                return route;
            default:
                String v = request.get(rule.header());
                return v == null ? NO_HEADER : v;
        }
    }
}
