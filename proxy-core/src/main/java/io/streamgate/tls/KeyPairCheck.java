package io.streamgate.tls;

import io.netty.handler.ssl.SslContext;
import java.io.File;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;

/**
 * Proves that a private key belongs to its certificate by signing a probe with the key and verifying it with the
 * certificate. Neither provider checks this when a context is built: BoringSSL would fail every handshake later, so
 * a bad pair must be caught at load and reload time instead.
 *
 * <p>Extends SslContext only to reach its PEM readers (protected static); it is never instantiated.
 */
public abstract class KeyPairCheck extends SslContext {
    private static final byte[] PROBE = "streamgate key pair check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private KeyPairCheck() {
    }

    /** Throws when the chain or key does not parse, or the key is not the leaf certificate's. */
    public static void verify(File certChain, File key, String password) throws GeneralSecurityException {
        X509Certificate[] chain;
        PrivateKey privateKey;
        try {
            chain = toX509Certificates(certChain);
            privateKey = toPrivateKey(key, password);
        } catch (Exception e) {
            throw new GeneralSecurityException("cannot read the certificate or key: " + e.getMessage(), e);
        }
        if (chain == null || chain.length == 0) {
            throw new GeneralSecurityException("no certificate in " + certChain);
        }
        PublicKey publicKey = chain[0].getPublicKey();
        String algorithm = signatureAlgorithm(privateKey);
        String family = family(privateKey.getAlgorithm());
        if (!family.equals(family(publicKey.getAlgorithm()))) {
            throw new GeneralSecurityException("the key is " + privateKey.getAlgorithm() + " but the certificate's is "
                    + publicKey.getAlgorithm());
        }
        // Re-create both keys with the JDK's own factory: the PEM reader may hand back another provider's key objects,
        // which the JDK's Signature refuses.
        KeyFactory factory = KeyFactory.getInstance(family.equals("Ed25519") ? "Ed25519" : family);
        privateKey = factory.generatePrivate(new PKCS8EncodedKeySpec(privateKey.getEncoded()));
        publicKey = factory.generatePublic(new X509EncodedKeySpec(publicKey.getEncoded()));
        Signature signer = Signature.getInstance(algorithm);
        signer.initSign(privateKey);
        signer.update(PROBE);
        byte[] signature = signer.sign();
        Signature verifier = Signature.getInstance(algorithm);
        verifier.initVerify(publicKey);
        verifier.update(PROBE);
        if (!verifier.verify(signature)) {
            throw new GeneralSecurityException("the private key does not belong to the certificate");
        }
    }

    /** Providers name the same key type differently (the JDK says "EC", BouncyCastle "ECDSA"). */
    private static String family(String algorithm) {
        switch (algorithm) {
            case "ECDSA":
                return "EC";
            case "EdDSA":
                return "Ed25519";
            default:
                return algorithm;
        }
    }

    private static String signatureAlgorithm(PrivateKey key) throws GeneralSecurityException {
        switch (family(key.getAlgorithm())) {
            case "RSA":
                return "SHA256withRSA";
            case "EC":
                return "SHA256withECDSA";
            case "Ed25519":
                return "Ed25519";
            default:
                throw new GeneralSecurityException("unsupported key type " + key.getAlgorithm() + " (expected RSA or ECDSA)");
        }
    }
}
