package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** One HTTP/1.1 response as {@code curl -i} printed it: status, headers (lower-case names) and body text. */
record CurlReply(int status, Map<String, String> headers, String body, String raw) {

    String header(String name) {
        return headers.get(name);
    }

    /** Runs {@code curl -i} with {@code curlArgs} and parses what it printed; fails the test if curl failed. */
    static CurlReply of(String... curlArgs) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("-i"));
        args.addAll(Arrays.asList(curlArgs));
        List<String> lines;
        try (Curl curl = Curl.start(args.toArray(String[]::new))) {
            lines = curl.remainingLines().stream().map(Curl.Line::text).toList();
            assertEquals(0, curl.exitCode(), () -> "curl failed:\n" + String.join("\n", lines));
        }
        String raw = String.join("\n", lines);
        int blank = lines.indexOf("");
        if (blank < 1 || !lines.get(0).startsWith("HTTP/1.1 ")) {
            fail("not an HTTP/1.1 response:\n" + raw);
        }
        Map<String, String> headers = new LinkedHashMap<>();
        for (String h : lines.subList(1, blank)) {
            int colon = h.indexOf(':');
            if (colon < 0) {
                fail("not a header line '" + h + "':\n" + raw);
            }
            headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
        }
        return new CurlReply(Integer.parseInt(lines.get(0).split(" ")[1]), headers,
                String.join("\n", lines.subList(blank + 1, lines.size())), raw);
    }

    @Override
    public String toString() {
        return raw;
    }
}
