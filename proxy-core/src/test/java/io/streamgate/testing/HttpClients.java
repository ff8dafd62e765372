package io.streamgate.testing;

import io.netty.pkitesting.X509Bundle;
import java.net.Socket;
import java.net.http.HttpClient;
import java.security.KeyManagementException;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLContextSpi;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * JDK {@link HttpClient}s for TLS tests: they trust the test server CA, may present a client certificate, may
 * send a chosen SNI name, and count the TLS connections they open (one SSLEngine per connection), so a test can
 * tell that many HTTP/2 streams shared one connection.
 *
 * <p>SNI: the JDK client derives SNI and the hostname check from the URI's host, except for an IP literal. So use
 * {@code https://127.0.0.1:port/...} (test certificates carry the IP SAN 127.0.0.1) with {@link Builder#sni}: the
 * client then sends that SNI name, and verifies the certificate against it.
 */
public final class HttpClients {
    private HttpClients() {
    }

    public static Builder builder(TestCertificates certs) {
        return new Builder(certs);
    }

    /** An SSLContext trusting {@code certs}' server CA and presenting {@code client} (may be null). */
    public static SSLContext sslContext(TestCertificates certs, TestCertificates.ClientCert client) {
        try {
            KeyManager[] keyManagers = client == null ? null : keyManagers(client.bundle());
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keyManagers, new TrustManager[] {certs.serverCa().toTrustManager()}, new SecureRandom());
            return context;
        } catch (Exception e) {
            throw new IllegalStateException("cannot build the test SSLContext", e);
        }
    }

    /**
     * An OkHttp client trusting the test server CA, offering h2 and http/1.1 over TLS. OkHttp is used where the
     * test needs frame-level certainty the JDK client does not document: closing an unfinished h2 response body
     * sends RST_STREAM(CANCEL), and its pool tells how many connections it holds.
     */
    public static okhttp3.OkHttpClient okHttp(TestCertificates certs) {
        SSLContext context = sslContext(certs, null);
        return new okhttp3.OkHttpClient.Builder()
                .sslSocketFactory(context.getSocketFactory(), (javax.net.ssl.X509TrustManager) certs.serverCa().toTrustManager())
                .protocols(List.of(okhttp3.Protocol.HTTP_2, okhttp3.Protocol.HTTP_1_1))
                .connectTimeout(Duration.ofSeconds(5))
                .readTimeout(Duration.ofSeconds(10))
                .build();
    }

    /** An OkHttp client speaking cleartext HTTP/2 with prior knowledge (no upgrade, no ALPN). */
    public static okhttp3.OkHttpClient okHttpPriorKnowledge() {
        return new okhttp3.OkHttpClient.Builder()
                .protocols(List.of(okhttp3.Protocol.H2_PRIOR_KNOWLEDGE))
                .connectTimeout(Duration.ofSeconds(5))
                .readTimeout(Duration.ofSeconds(10))
                .build();
    }

    /**
     * Key managers that present the certificate whatever CAs the server names in its CertificateRequest. The JDK's
     * own would silently send no certificate when the issuer is not listed, which hides what a server does with a
     * certificate from an unknown CA (an attacker's client sends it anyway).
     */
    private static KeyManager[] keyManagers(X509Bundle bundle) throws Exception {
        KeyManager[] managers = bundle.toKeyManagerFactory().getKeyManagers();
        for (int i = 0; i < managers.length; i++) {
            if (managers[i] instanceof X509ExtendedKeyManager manager) {
                managers[i] = new AnyIssuerKeyManager(manager);
            }
        }
        return managers;
    }

    private static final class AnyIssuerKeyManager extends X509ExtendedKeyManager {
        private final X509ExtendedKeyManager delegate;

        AnyIssuerKeyManager(X509ExtendedKeyManager delegate) {
            this.delegate = delegate;
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return delegate.chooseClientAlias(keyType, null, socket);
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            return delegate.chooseEngineClientAlias(keyType, null, engine);
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return delegate.getClientAliases(keyType, null);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return delegate.getServerAliases(keyType, issuers);
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return delegate.chooseServerAlias(keyType, issuers, socket);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return delegate.getCertificateChain(alias);
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return delegate.getPrivateKey(alias);
        }
    }

    public static final class Builder {
        private final TestCertificates certs;
        private HttpClient.Version version = HttpClient.Version.HTTP_2;
        private TestCertificates.ClientCert clientCert;
        private String sni;
        private final AtomicInteger connections = new AtomicInteger();

        private Builder(TestCertificates certs) {
            this.certs = certs;
        }

        /** HTTP_2 (default: ALPN offers h2 and http/1.1) or HTTP_1_1 (ALPN offers http/1.1 only). */
        public Builder version(HttpClient.Version version) {
            this.version = version;
            return this;
        }

        public Builder clientCert(TestCertificates.ClientCert clientCert) {
            this.clientCert = clientCert;
            return this;
        }

        /** The SNI name to send when the URI's host is an IP literal. */
        public Builder sni(String sni) {
            this.sni = sni;
            return this;
        }

        /** Counts the TLS connections that clients built by this builder open. */
        public AtomicInteger connections() {
            return connections;
        }

        public HttpClient build() {
            SSLContext context = new CountingSslContext(sslContext(certs, clientCert), connections);
            SSLParameters parameters = context.getDefaultSSLParameters();
            if (sni != null) {
                parameters.setServerNames(List.of(new SNIHostName(sni)));
            }
            return HttpClient.newBuilder()
                    .version(version)
                    .sslContext(context)
                    .sslParameters(parameters)
                    .connectTimeout(Duration.ofSeconds(5))
                    // Daemon threads: a client a test forgets (or a failed test leaves) never holds up the JVM.
                    .executor(Executors.newCachedThreadPool(r -> {
                        Thread t = new Thread(r, "test-http-client");
                        t.setDaemon(true);
                        return t;
                    }))
                    .build();
        }
    }

    /** Delegates to a real SSLContext, counting the engines created: the JDK client makes one per connection. */
    private static final class CountingSslContext extends SSLContext {
        CountingSslContext(SSLContext delegate, AtomicInteger engines) {
            super(new Spi(delegate, engines), delegate.getProvider(), delegate.getProtocol());
        }

        private static final class Spi extends SSLContextSpi {
            private final SSLContext delegate;
            private final AtomicInteger engines;

            Spi(SSLContext delegate, AtomicInteger engines) {
                this.delegate = delegate;
                this.engines = engines;
            }

            @Override
            protected void engineInit(KeyManager[] km, TrustManager[] tm, SecureRandom sr) throws KeyManagementException {
                throw new KeyManagementException("already initialised");
            }

            @Override
            protected SSLSocketFactory engineGetSocketFactory() {
                return delegate.getSocketFactory();
            }

            @Override
            protected SSLServerSocketFactory engineGetServerSocketFactory() {
                return delegate.getServerSocketFactory();
            }

            @Override
            protected SSLEngine engineCreateSSLEngine() {
                engines.incrementAndGet();
                return delegate.createSSLEngine();
            }

            @Override
            protected SSLEngine engineCreateSSLEngine(String host, int port) {
                engines.incrementAndGet();
                return delegate.createSSLEngine(host, port);
            }

            @Override
            protected SSLSessionContext engineGetServerSessionContext() {
                return delegate.getServerSessionContext();
            }

            @Override
            protected SSLSessionContext engineGetClientSessionContext() {
                return delegate.getClientSessionContext();
            }

            @Override
            protected SSLParameters engineGetDefaultSSLParameters() {
                return delegate.getDefaultSSLParameters();
            }

            @Override
            protected SSLParameters engineGetSupportedSSLParameters() {
                return delegate.getSupportedSSLParameters();
            }
        }
    }
}
