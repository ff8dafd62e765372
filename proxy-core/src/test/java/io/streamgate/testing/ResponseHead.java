package io.streamgate.testing;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Status and headers of a response; header names are lower-cased. */
public record ResponseHead(int status, String reason, Map<String, List<String>> headers) {

    /** The first value of the header, or null. */
    public String header(String name) {
        List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
        return values == null || values.isEmpty() ? null : values.get(0);
    }

    public List<String> headers(String name) {
        return headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
    }

    public boolean isChunked() {
        String te = header("transfer-encoding");
        return te != null && te.toLowerCase(Locale.ROOT).contains("chunked");
    }

    /** Content-Length, or -1 when absent. */
    public long contentLength() {
        String cl = header("content-length");
        return cl == null ? -1 : Long.parseLong(cl);
    }
}
