package io.streamgate.tls;

import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;

/**
 * The cipher suites a TLS listener enables, and which names the provider in use knows. Stateless.
 *
 * <p>The configured list speaks only of TLS 1.2: TLS 1.3's three suites are all AEAD with ephemeral keys, so they are
 * always enabled. Without that, a list of TLS 1.2 suites switched TLS 1.3 off on the JDK provider (which needs its
 * suites listed), and a TLS 1.3-only listener with such a list could not complete any handshake.
 */
public final class CipherSuites {
    static final List<String> TLS13 = List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256");

    /** ECDHE key exchange with AEAD ciphers only: forward secrecy everywhere. */
    static final List<String> DEFAULT_TLS12 = List.of(
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    private CipherSuites() {
    }

    /**
     * Whether the provider terminating TLS here can use the suite {@code javaName} (an IANA name such as
     * TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256). An unknown name used to be dropped without a word, so a list of only
     * unknown names left TLS 1.2 clients without any suite.
     */
    public static boolean supported(String javaName) {
        return Supported.NAMES.contains(javaName);
    }

    /**
     * What a listener enables: TLS 1.3's suites, then the configured TLS 1.2 suites in their order, or our defaults
     * when none are configured. For HTTP/2 the defaults keep only the suites RFC 7540 appendix A allows (ours all
     * are); a configured list is taken as the operator wrote it.
     */
    static List<String> enabled(List<String> configured, boolean http2) {
        List<String> tls12 = !configured.isEmpty() ? configured
                : http2 ? DEFAULT_TLS12.stream().filter(Http2SecurityUtil.CIPHERS::contains).toList() : DEFAULT_TLS12;
        return List.copyOf(new LinkedHashSet<>(Stream.concat(TLS13.stream(), tls12.stream()).toList()));
    }

    /** Computed once: asking the provider loads its native library or builds a JDK context. */
    private static final class Supported {
        static final Set<String> NAMES = names();

        private static Set<String> names() {
            if (TlsContexts.provider() == SslProvider.OPENSSL) {
                return Set.copyOf(OpenSsl.availableJavaCipherSuites());
            }
            try {
                return Set.of(SSLContext.getDefault().getSupportedSSLParameters().getCipherSuites());
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("the JDK offers no TLS implementation", e);
            }
        }
    }
}
