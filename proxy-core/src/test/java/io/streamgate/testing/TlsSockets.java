package io.streamgate.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * Raw TLS client sockets to 127.0.0.1 with full control of SNI, protocol versions and ALPN, for assertions on
 * the handshake itself (which certificate was served, which version and protocol were negotiated). No hostname
 * verification: tests inspect the served certificate themselves. The chain must still lead to the trusted CA.
 *
 * <p>A client SSLContext caches sessions per host and port and resumes them; a resumed session reports the
 * certificate of the handshake that created it, whatever SNI was sent since. Tests about which certificate is
 * served must use a fresh SSLContext per connection.
 */
public final class TlsSockets {
    private final int port;
    private SSLContext context;
    private String sni;
    private String[] protocols;
    private String[] alpn;

    private TlsSockets(int port) {
        this.port = port;
    }

    public static TlsSockets to(int port) {
        return new TlsSockets(port);
    }

    public TlsSockets context(SSLContext context) {
        this.context = context;
        return this;
    }

    /** The SNI host name to send; null (the default) sends no SNI at all. */
    public TlsSockets sni(String sni) {
        this.sni = sni;
        return this;
    }

    public TlsSockets protocols(String... protocols) {
        this.protocols = protocols;
        return this;
    }

    public TlsSockets alpn(String... alpn) {
        this.alpn = alpn;
        return this;
    }

    /** Connects and completes the handshake (10 s read timeout); throws if the handshake fails. */
    public SSLSocket handshake() throws IOException {
        if (context == null) {
            throw new IllegalStateException("no SSLContext");
        }
        Socket plain = new Socket();
        plain.setTcpNoDelay(true);
        plain.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        plain.setSoTimeout(10_000);
        // An IP literal as host: the JDK sends no SNI of its own accord.
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(plain, "127.0.0.1", port, true);
        try {
            SSLParameters parameters = socket.getSSLParameters();
            List<SNIServerName> names = new ArrayList<>();
            if (sni != null) {
                names.add(new SNIHostName(sni));
            }
            parameters.setServerNames(names);
            parameters.setEndpointIdentificationAlgorithm(null);
            if (protocols != null) {
                parameters.setProtocols(protocols);
            }
            if (alpn != null) {
                parameters.setApplicationProtocols(alpn);
            }
            socket.setSSLParameters(parameters);
            socket.startHandshake();
            return socket;
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /** The leaf certificate the server presented. */
    public static X509Certificate peerLeaf(SSLSocket socket) throws IOException {
        Certificate[] chain = socket.getSession().getPeerCertificates();
        return (X509Certificate) chain[0];
    }

    /** The DNS names of a certificate's subjectAltName extension. */
    public static List<String> dnsNames(X509Certificate certificate) {
        List<String> names = new ArrayList<>();
        try {
            Collection<List<?>> sans = certificate.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (Integer.valueOf(2).equals(san.get(0))) {
                        names.add((String) san.get(1));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            throw new IllegalStateException(e);
        }
        return names;
    }
}
