package io.streamgate.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.streamgate.server.HeaderLines;

/** Netty's request encoder, with the header lines written by {@link HeaderLines} (same bytes, fewer steps). */
final class UpstreamRequestEncoder extends HttpRequestEncoder {
    @Override
    protected void encodeHeaders(HttpHeaders headers, ByteBuf buf) {
        HeaderLines.write(headers, buf);
    }
}
