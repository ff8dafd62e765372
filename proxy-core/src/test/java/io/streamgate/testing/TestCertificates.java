package io.streamgate.testing;

import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import javax.crypto.Cipher;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * A throw-away PKI for TLS tests: a server CA issuing RSA and ECDSA leaf certificates for given DNS names (always
 * with the IP SAN 127.0.0.1 too, so a client may connect by address), and a separate client CA issuing client
 * certificates for mutual TLS. Every certificate and key is written as PEM into a temp directory, which
 * {@link #close()} deletes.
 */
public final class TestCertificates implements AutoCloseable {
    private static final String SUBJECT_ALT_NAME = "2.5.29.17";
    private static final int[] PBES2 = {1, 2, 840, 113549, 1, 5, 13};
    private static final int[] PBKDF2 = {1, 2, 840, 113549, 1, 5, 12};
    private static final int[] HMAC_WITH_SHA256 = {1, 2, 840, 113549, 2, 9};
    private static final int[] AES_256_CBC = {2, 16, 840, 1, 101, 3, 4, 1, 42};

    private final Path dir;
    private final X509Bundle serverCa;
    private final X509Bundle clientCa;
    private final Path serverCaPem;
    private final Path clientCaPem;
    private final AtomicInteger fileCounter = new AtomicInteger();

    private TestCertificates() throws Exception {
        dir = Files.createTempDirectory("streamgate-certs");
        serverCa = authority("CN=Streamgate Test Server CA");
        clientCa = authority("CN=Streamgate Test Client CA");
        serverCaPem = write("server-ca.pem", serverCa.getCertificatePEM());
        clientCaPem = write("client-ca.pem", clientCa.getCertificatePEM());
    }

    public static TestCertificates create() throws Exception {
        return new TestCertificates();
    }

    /** A root CA valid from yesterday for a year (so clock skew between steps never matters). */
    private static X509Bundle authority(String subject) throws Exception {
        return validity(new CertificateBuilder())
                .subject(subject)
                .setIsCertificateAuthority(true)
                .ecp256()
                .buildSelfSigned();
    }

    private static CertificateBuilder validity(CertificateBuilder builder) {
        Instant now = Instant.now();
        return builder.notBefore(now.minus(1, ChronoUnit.DAYS)).notAfter(now.plus(365, ChronoUnit.DAYS));
    }

    public Path dir() {
        return dir;
    }

    public X509Bundle serverCa() {
        return serverCa;
    }

    public X509Bundle clientCa() {
        return clientCa;
    }

    /** PEM of the CA that issues the server certificates: what a client trusts. */
    public Path serverCaPem() {
        return serverCaPem;
    }

    /** PEM of the CA that issues client certificates: the proxy's {@code client_ca}. */
    public Path clientCaPem() {
        return clientCaPem;
    }

    /** An RSA 2048 leaf for {@code dnsNames} (the first is also the subject CN), issued by the server CA. */
    public ServerCert rsa(String... dnsNames) throws Exception {
        return server(new CertificateBuilder().rsa2048(), "RSA", null, dnsNames);
    }

    /** An ECDSA P-256 leaf for {@code dnsNames}, issued by the server CA. */
    public ServerCert ecdsa(String... dnsNames) throws Exception {
        return server(new CertificateBuilder().ecp256(), "ECDSA", null, dnsNames);
    }

    /** An RSA leaf whose key file is an encrypted PKCS#8 PEM (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC). */
    public ServerCert rsaWithEncryptedKey(String password, String... dnsNames) throws Exception {
        return server(new CertificateBuilder().rsa2048(), "RSA", password, dnsNames);
    }

    /** A client certificate with subject {@code CN=cn}, issued by the client CA. */
    public ClientCert client(String cn) throws Exception {
        return clientIssuedBy(clientCa, cn);
    }

    /** A client certificate issued by a CA the proxy does not know. */
    public ClientCert clientFromUnknownCa(String cn) throws Exception {
        return clientIssuedBy(authority("CN=Streamgate Test Rogue CA"), cn);
    }

    private ClientCert clientIssuedBy(X509Bundle issuer, String cn) throws Exception {
        X509Bundle bundle = validity(new CertificateBuilder())
                .subject("CN=" + cn)
                .ecp256()
                .setKeyUsage(true, CertificateBuilder.KeyUsage.digitalSignature)
                .addExtendedKeyUsageClientAuth()
                .buildIssuedBy(issuer);
        return new ClientCert(bundle, cn);
    }

    private ServerCert server(CertificateBuilder builder, String kind, String keyPassword, String... dnsNames) throws Exception {
        if (dnsNames.length == 0) {
            throw new IllegalArgumentException("a server certificate needs at least one DNS name");
        }
        int n = fileCounter.incrementAndGet();
        String cn = dnsNames[0].replace("*", "wildcard");
        validity(builder)
                .subject("CN=" + cn + ", O=Streamgate Test " + kind + " " + n)
                .setKeyUsage(true, CertificateBuilder.KeyUsage.digitalSignature, CertificateBuilder.KeyUsage.keyEncipherment)
                .addExtendedKeyUsageServerAuth()
                .addExtensionOctetString(SUBJECT_ALT_NAME, false, subjectAltNames(dnsNames));
        X509Bundle bundle = builder.buildIssuedBy(serverCa);
        String base = "server-" + n + "-" + kind.toLowerCase();
        String keyPem = keyPassword == null ? bundle.getPrivateKeyPEM() : encryptedPkcs8Pem(bundle.getKeyPair().getPrivate(), keyPassword);
        return new ServerCert(bundle, write(base + ".pem", bundle.getCertificatePathPEM()), write(base + ".key", keyPem),
                keyPem, keyPassword);
    }

    /**
     * The subjectAltName value: the DNS names and the IP 127.0.0.1. Written by hand because CertificateBuilder's
     * addSanDnsName parses names as URI hosts and so refuses wildcards.
     */
    private static byte[] subjectAltNames(String... dnsNames) {
        byte[][] names = new byte[dnsNames.length + 1][];
        for (int i = 0; i < dnsNames.length; i++) {
            names[i] = Der.tlv(0x82, dnsNames[i].getBytes(StandardCharsets.US_ASCII)); // [2] dNSName
        }
        names[dnsNames.length] = Der.tlv(0x87, new byte[] {127, 0, 0, 1}); // [7] iPAddress
        return Der.sequence(names);
    }

    private Path write(String name, String text) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, text, StandardCharsets.US_ASCII);
        return file;
    }

    /**
     * An encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY") as {@code openssl pkcs8 -topk8 -v2 aes-256-cbc} writes it:
     * PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC. The DER is written by hand because JDK 17's
     * EncryptedPrivateKeyInfo cannot encode PBES2 parameters.
     */
    static String encryptedPkcs8Pem(PrivateKey key, String password) throws Exception {
        SecureRandom random = new SecureRandom();
        byte[] salt = new byte[16];
        byte[] iv = new byte[16];
        random.nextBytes(salt);
        random.nextBytes(iv);
        int iterations = 10_000;
        byte[] aesKey = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256")
                .generateSecret(new PBEKeySpec(password.toCharArray(), salt, iterations, 256)).getEncoded();
        Cipher cipher = Cipher.getInstance("AES/CBC/PKCS5Padding");
        cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(aesKey, "AES"), new IvParameterSpec(iv));
        byte[] encrypted = cipher.doFinal(key.getEncoded());

        byte[] pbkdf2Params = Der.sequence(Der.octetString(salt), Der.integer(iterations),
                Der.sequence(Der.oid(HMAC_WITH_SHA256), Der.NULL));
        byte[] pbes2Params = Der.sequence(
                Der.sequence(Der.oid(PBKDF2), pbkdf2Params),
                Der.sequence(Der.oid(AES_256_CBC), Der.octetString(iv)));
        byte[] der = Der.sequence(Der.sequence(Der.oid(PBES2), pbes2Params), Der.octetString(encrypted));
        return "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END ENCRYPTED PRIVATE KEY-----\n";
    }

    /** Just enough DER for the structures above. */
    private static final class Der {
        static final byte[] NULL = {0x05, 0x00};

        static byte[] sequence(byte[]... parts) {
            java.io.ByteArrayOutputStream content = new java.io.ByteArrayOutputStream();
            for (byte[] part : parts) {
                content.writeBytes(part);
            }
            return tlv(0x30, content.toByteArray());
        }

        static byte[] octetString(byte[] bytes) {
            return tlv(0x04, bytes);
        }

        static byte[] integer(int value) {
            return tlv(0x02, java.math.BigInteger.valueOf(value).toByteArray());
        }

        static byte[] oid(int... arcs) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            out.write(arcs[0] * 40 + arcs[1]);
            for (int i = 2; i < arcs.length; i++) {
                int arc = arcs[i];
                int shift = 28;
                while (shift > 0 && (arc >>> shift) == 0) {
                    shift -= 7;
                }
                for (; shift > 0; shift -= 7) {
                    out.write(0x80 | (arc >>> shift) & 0x7f);
                }
                out.write(arc & 0x7f);
            }
            return tlv(0x06, out.toByteArray());
        }

        static byte[] tlv(int tag, byte[] content) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            out.write(tag);
            int length = content.length;
            if (length < 0x80) {
                out.write(length);
            } else if (length < 0x100) {
                out.write(0x81);
                out.write(length);
            } else {
                out.write(0x82);
                out.write(length >>> 8);
                out.write(length & 0xff);
            }
            out.writeBytes(content);
            return out.toByteArray();
        }
    }

    @Override
    public void close() {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A server certificate and its files: {@code certFile} holds the chain, leaf first; {@code keyFile} the
     * private key (encrypted when {@code keyPassword} is not null).
     */
    public record ServerCert(X509Bundle bundle, Path certFile, Path keyFile, String keyPem, String keyPassword) {

        public X509Certificate certificate() {
            return bundle.getCertificate();
        }

        public String subject() {
            return certificate().getSubjectX500Principal().getName();
        }

        /**
         * Overwrites {@code certFile} and {@code keyFile} in place (same inode, truncate and write) with this
         * certificate's chain and key, as a renewal script that rewrites files does. The key goes first, so a
         * reloader may briefly see the new key with the old certificate and must then keep what it had.
         */
        public void writeOver(Path certFile, Path keyFile) throws IOException {
            Files.writeString(keyFile, keyPem, StandardCharsets.US_ASCII);
            Files.writeString(certFile, bundle.getCertificatePathPEM(), StandardCharsets.US_ASCII);
        }

        /** Replaces {@code certFile} and {@code keyFile} by rename, as cert-manager's atomic symlink swap appears to a reader. */
        public void moveOver(Path certFile, Path keyFile) throws IOException {
            replace(keyFile, keyPem);
            replace(certFile, bundle.getCertificatePathPEM());
        }

        private static void replace(Path file, String text) throws IOException {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, text, StandardCharsets.US_ASCII);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }

        /** The YAML list item for {@code server.tls.certificates}, indented by {@code indent} spaces. */
        public String yamlItem(int indent, String... serverNames) {
            String pad = " ".repeat(indent);
            StringBuilder sb = new StringBuilder()
                    .append(pad).append("- cert: \"").append(certFile).append("\"\n")
                    .append(pad).append("  key: \"").append(keyFile).append("\"\n");
            if (keyPassword != null) {
                sb.append(pad).append("  key_password: \"").append(keyPassword).append("\"\n");
            }
            if (serverNames.length > 0) {
                sb.append(pad).append("  server_names: [");
                for (int i = 0; i < serverNames.length; i++) {
                    sb.append(i == 0 ? "\"" : ", \"").append(serverNames[i]).append('"');
                }
                sb.append("]\n");
            }
            return sb.toString();
        }
    }

    /** A client certificate for mutual TLS, with its key; {@code cn} is the subject's common name. */
    public record ClientCert(X509Bundle bundle, String cn) {
    }
}
