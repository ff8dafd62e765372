package io.streamgate.tls;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import io.netty.util.DomainWildcardMappingBuilder;
import io.netty.util.Mapping;
import io.streamgate.config.TlsConfig;
import java.security.GeneralSecurityException;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * Builds the server {@link SslContext}s for a {@link TlsConfig}: one per certificate, selected by SNI, the first
 * being the default. BoringSSL (netty-tcnative) is used when it loads, the JDK's provider otherwise.
 */
public final class TlsContexts {
    private TlsContexts() {
    }

    /** "BoringSSL" or "JDK": which provider terminates TLS here. */
    public static String providerName() {
        return provider() == SslProvider.OPENSSL ? "BoringSSL (" + OpenSsl.versionString() + ")" : "JDK";
    }

    static SslProvider provider() {
        return OpenSsl.isAvailable() && SslProvider.isAlpnSupported(SslProvider.OPENSSL) ? SslProvider.OPENSSL : SslProvider.JDK;
    }

    /** The SNI mapping: host name to context, with the first certificate as the default. */
    public static Mapping<String, SslContext> build(TlsConfig tls, boolean http2) throws SSLException {
        List<TlsConfig.Certificate> certs = tls.certificates();
        SslContext first = context(tls, certs.get(0), http2);
        DomainWildcardMappingBuilder<SslContext> mapping = new DomainWildcardMappingBuilder<>(certs.size() * 2 + 1, first);
        for (int i = 0; i < certs.size(); i++) {
            SslContext ctx = i == 0 ? first : context(tls, certs.get(i), http2);
            for (String name : certs.get(i).serverNames()) {
                mapping.add(name, ctx);
            }
        }
        return mapping.build();
    }

    private static SslContext context(TlsConfig tls, TlsConfig.Certificate cert, boolean http2) throws SSLException {
        try {
            KeyPairCheck.verify(cert.cert().toFile(), cert.key().toFile(), cert.keyPassword());
        } catch (GeneralSecurityException e) {
            throw new SSLException(cert.cert() + ": " + e.getMessage(), e);
        }
        List<String> protocols = http2
                ? List.of(ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1)
                : List.of(ApplicationProtocolNames.HTTP_1_1);
        SslContextBuilder b = SslContextBuilder.forServer(cert.cert().toFile(), cert.key().toFile(), cert.keyPassword())
                .sslProvider(provider())
                .protocols(tls.protocols())
                .ciphers(CipherSuites.enabled(tls.ciphers(), http2), SupportedCipherSuiteFilter.INSTANCE)
                .applicationProtocolConfig(new ApplicationProtocolConfig(
                        ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        protocols));
        switch (tls.clientAuth()) {
            case REQUIRE:
                b.clientAuth(ClientAuth.REQUIRE).trustManager(tls.clientCa().toFile());
                break;
            case OPTIONAL:
                b.clientAuth(ClientAuth.OPTIONAL).trustManager(tls.clientCa().toFile());
                break;
            default:
                break;
        }
        return b.build();
    }
}
