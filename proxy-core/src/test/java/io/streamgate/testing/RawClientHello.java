package io.streamgate.testing;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;

/**
 * A hand-written TLS 1.0/1.1/1.2 ClientHello (no supported_versions extension, so its version field is the
 * highest version offered) and the first record the server answers with. The JDK client refuses to even offer
 * TLS 1.0/1.1 or non-forward-secret suites (jdk.tls.disabledAlgorithms), so a JDK-based check of "the server
 * refuses TLS 1.1" would pass against any server; these bytes put the question to the server itself.
 */
public final class RawClientHello {
    public static final int TLS_1_0 = 0x0301;
    public static final int TLS_1_1 = 0x0302;
    public static final int TLS_1_2 = 0x0303;

    /** ECDHE with AES-GCM: forward secret and AEAD, what a modern TLS 1.2 server accepts. */
    public static final int[] ECDHE_GCM = {0xC02B, 0xC02F, 0xC02C, 0xC030};
    /** ECDHE with AES-CBC-SHA1: forward secret but legacy CBC; the only ECDHE suites TLS 1.0/1.1 can use. */
    public static final int[] ECDHE_CBC = {0xC009, 0xC013, 0xC00A, 0xC014};
    /** Static RSA key exchange: no forward secrecy. */
    public static final int[] RSA_KEY_EXCHANGE = {0x009C, 0x009D, 0x002F, 0x0035};
    /** 3DES and RC4: weak ciphers. */
    public static final int[] WEAK = {0x000A, 0xC012, 0x0005, 0xC011};

    private static final int EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF;

    private RawClientHello() {
    }

    /** What the server answered a ClientHello with. */
    public record Answer(Kind kind, int version, int alertDescription) {
        public enum Kind { SERVER_HELLO, ALERT, CLOSED, OTHER }

        public boolean accepted() {
            return kind == Kind.SERVER_HELLO;
        }

        @Override
        public String toString() {
            return switch (kind) {
                case SERVER_HELLO -> "ServerHello(version 0x" + Integer.toHexString(version) + ")";
                case ALERT -> "Alert(" + alertDescription + ")";
                case CLOSED -> "connection closed";
                case OTHER -> "unexpected record";
            };
        }
    }

    /** Sends a ClientHello offering at most {@code version} with {@code cipherSuites} and reads the answer. */
    public static Answer send(int port, int version, String sni, int... cipherSuites) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(clientHello(version, sni, cipherSuites));
            socket.getOutputStream().flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            try {
                int contentType = in.readUnsignedByte();
                in.readUnsignedShort(); // record version
                int length = in.readUnsignedShort();
                byte[] fragment = new byte[length];
                in.readFully(fragment);
                if (contentType == 21 && length >= 2) {
                    return new Answer(Answer.Kind.ALERT, 0, fragment[1] & 0xff);
                }
                if (contentType == 22 && length >= 6 && fragment[0] == 2) {
                    return new Answer(Answer.Kind.SERVER_HELLO, (fragment[4] & 0xff) << 8 | fragment[5] & 0xff, 0);
                }
                return new Answer(Answer.Kind.OTHER, 0, 0);
            } catch (EOFException | SocketException closed) {
                return new Answer(Answer.Kind.CLOSED, 0, 0);
            } catch (SocketTimeoutException silent) {
                throw new IOException("the server answered a ClientHello with nothing for 10s", silent);
            }
        }
    }

    static byte[] clientHello(int version, String sni, int... cipherSuites) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        u16(body, version);
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        body.writeBytes(random);
        body.write(0); // no session id
        u16(body, (cipherSuites.length + 1) * 2);
        for (int suite : cipherSuites) {
            u16(body, suite);
        }
        u16(body, EMPTY_RENEGOTIATION_INFO_SCSV);
        body.write(1); // one compression method:
        body.write(0); // null

        ByteArrayOutputStream extensions = new ByteArrayOutputStream();
        if (sni != null) {
            byte[] name = sni.getBytes(StandardCharsets.US_ASCII);
            ByteArrayOutputStream list = new ByteArrayOutputStream();
            u16(list, name.length + 3);
            list.write(0); // host_name
            u16(list, name.length);
            list.writeBytes(name);
            extension(extensions, 0x0000, list.toByteArray());
        }
        // supported_groups: x25519, secp256r1, secp384r1
        extension(extensions, 0x000A, new byte[] {0, 6, 0, 0x1D, 0, 0x17, 0, 0x18});
        // ec_point_formats: uncompressed
        extension(extensions, 0x000B, new byte[] {1, 0});
        // signature_algorithms: rsa_pss_rsae_sha256, rsa_pkcs1_sha256, ecdsa_secp256r1_sha256, rsa_pkcs1_sha1, ecdsa_sha1
        extension(extensions, 0x000D, new byte[] {0, 10, 8, 4, 4, 1, 4, 3, 2, 1, 2, 3});
        // extended_master_secret
        extension(extensions, 0x0017, new byte[0]);
        byte[] ext = extensions.toByteArray();
        u16(body, ext.length);
        body.writeBytes(ext);

        byte[] hello = body.toByteArray();
        ByteArrayOutputStream record = new ByteArrayOutputStream();
        record.write(22); // handshake
        u16(record, TLS_1_0); // record-layer version, as real clients send
        u16(record, hello.length + 4);
        record.write(1); // client_hello
        record.write(hello.length >>> 16);
        u16(record, hello.length & 0xffff);
        record.writeBytes(hello);
        return record.toByteArray();
    }

    private static void extension(ByteArrayOutputStream out, int type, byte[] data) {
        u16(out, type);
        u16(out, data.length);
        out.writeBytes(data);
    }

    private static void u16(ByteArrayOutputStream out, int value) {
        out.write(value >>> 8 & 0xff);
        out.write(value & 0xff);
    }
}
