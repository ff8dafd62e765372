package io.streamgate.upstream;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.streamgate.config.UpstreamConfig;
import java.io.File;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The client TLS context for an upstream's {@code https://} endpoints. */
final class BackendTlsContext {
    private static final Logger LOG = LoggerFactory.getLogger(BackendTlsContext.class);

    private BackendTlsContext() {
    }

    /** @throws IllegalArgumentException when the CA file cannot be used */
    static SslContext of(UpstreamConfig.BackendTls tls) {
        SslContextBuilder b = SslContextBuilder.forClient().protocols("TLSv1.3", "TLSv1.2");
        if (!tls.verify()) {
            LOG.warn("backend TLS verification is off: any certificate is accepted (tls.verify: false)");
            b.trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null);
        } else {
            // Host name checks are what make the chain check mean anything; Netty does not always turn them on.
            b.endpointIdentificationAlgorithm("HTTPS");
            if (tls.ca() != null) {
                b.trustManager(new File(tls.ca().toString()));
            }
        }
        try {
            return b.build();
        } catch (SSLException | RuntimeException e) {
            throw new IllegalArgumentException("cannot set up TLS to the backends" + (tls.ca() == null ? "" : " with CA " + tls.ca())
                    + ": " + e.getMessage(), e);
        }
    }
}
