package io.streamgate.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * TLS termination for the listener.
 *
 * @param certificates        the first is the default, served when no SNI name matches
 * @param ciphers             cipher suites (Java names), or empty for the secure defaults
 * @param clientCa            CA bundle that client certificates must chain to; null when clientAuth is NONE
 * @param reloadCheckInterval how often certificate files are checked for changes; zero for never
 */
public record TlsConfig(List<Certificate> certificates, List<String> protocols, List<String> ciphers,
                        ClientAuth clientAuth, Path clientCa, Duration reloadCheckInterval) {

    public TlsConfig {
        certificates = List.copyOf(certificates);
        protocols = List.copyOf(protocols);
        ciphers = List.copyOf(ciphers);
    }

    /** Mutual TLS: whether clients must present a certificate. */
    public enum ClientAuth { NONE, OPTIONAL, REQUIRE }

    /**
     * A certificate chain and its key.
     *
     * @param keyPassword password of an encrypted PKCS#8 key, or null
     * @param serverNames SNI names (exact or {@code *.suffix}) this certificate serves; may be empty
     */
    public record Certificate(Path cert, Path key, String keyPassword, List<String> serverNames) {
        public Certificate {
            serverNames = List.copyOf(serverNames);
        }

        @Override
        public String toString() {
            return "Certificate[cert=" + cert + ", key=" + key + ", serverNames=" + serverNames + "]";
        }
    }
}
