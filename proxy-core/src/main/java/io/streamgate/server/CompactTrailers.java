package io.streamgate.server;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;

/**
 * Trailer maps for our HTTP/1.1 decoders. Netty's decoders give the last part of every message with a body a trailer
 * map of its own, with room for sixteen names, although HTTP/1.1 messages almost never carry trailers; these start
 * with room for two (and grow like any header map). Names and values are checked exactly as Netty checks trailers.
 */
public final class CompactTrailers implements HttpHeadersFactory {
    private static final DefaultHttpHeadersFactory NETTY = DefaultHttpHeadersFactory.trailersFactory();
    private static final CompactTrailers INSTANCE = new CompactTrailers();

    private CompactTrailers() {
    }

    public static HttpHeadersFactory factory() {
        return INSTANCE;
    }

    @Override
    public HttpHeaders newHeaders() {
        return new Trailers();
    }

    @Override
    public HttpHeaders newEmptyHeaders() {
        return NETTY.newEmptyHeaders();
    }

    private static final class Trailers extends DefaultHttpHeaders {
        Trailers() {
            super(NETTY.getNameValidator(), NETTY.getValueValidator(), 2);
        }
    }
}
