package io.streamgate.server.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamgate.server.ConfigFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What /admin/config shows of a configuration that holds every kind of secret Streamgate reads. */
class ConfigViewTest {
    private static final List<String> SECRETS = List.of(
            "sk-alice-0123456789abcdef", // api_keys[].key
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", // api_keys[].sha256
            "admin-token-0123456789", // admin.token
            "redis-pass-42", // in redis.url
            "vllm-upstream-key-31337", // upstreams.<name>.api_key
            "route-upstream-key-271828", // routes[].upstream_api_key
            "pem-pass-161803"); // server.tls.certificates[].key_password

    @Test
    void everySecretIsRedactedAndTheRestIsKept(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("streamgate.yaml");
        Files.writeString(file, """
                server:
                  listen: "0.0.0.0:8443"
                  tls:
                    certificates:
                      - cert: /etc/streamgate/cert.pem
                        key: /etc/streamgate/key.pem
                        key_password: pem-pass-161803
                admin:
                  listen: "127.0.0.1:9901"
                  token: admin-token-0123456789
                api_keys:
                  - name: alice
                    key: sk-alice-0123456789abcdef
                  - name: bob
                    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
                  - name: carol
                    key: "${CAROL_KEY}"
                redis:
                  url: "redis://:redis-pass-42@10.0.0.9:6379/0"
                rate_limits:
                  - key: api_key
                    requests: 10/s
                upstreams:
                  vllm:
                    endpoints: ["http://10.0.0.5:8000"]
                    api_key: vllm-upstream-key-31337
                    hash_key: api_key
                routes:
                  - path_prefix: /v1
                    upstream: vllm
                    upstream_api_key: route-upstream-key-271828
                """);
        String yaml = ConfigView.of(ConfigFile.read(file), 0).text();
        for (String secret : SECRETS) {
            assertFalse(yaml.contains(secret), () -> secret + " is shown:\n" + yaml);
        }
        assertEquals(SECRETS.size(), yaml.split(ConfigView.REDACTED, -1).length - 1, yaml);
        assertTrue(yaml.contains("${CAROL_KEY}"), () -> "a reference names a secret without holding it:\n" + yaml);
        assertTrue(yaml.contains("hash_key: api_key") && yaml.contains("key: api_key"),
                () -> "values that merely say api_key are settings, not secrets:\n" + yaml);
        assertTrue(yaml.contains("http://10.0.0.5:8000"), yaml);
    }
}
