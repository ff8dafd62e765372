package io.streamgate.config;

import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.streamgate.config.TlsConfig.Certificate;
import io.streamgate.config.TlsConfig.ClientAuth;
import io.streamgate.tls.CipherSuites;
import io.streamgate.tls.KeyPairCheck;
import io.streamgate.tls.TlsContexts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads {@code server.tls}. Certificates and keys are parsed at load time, so {@code --check} and a reload catch a
 * broken PEM file or a key that does not match its certificate before anything depends on them.
 */
final class TlsConfigReader {
    static final List<String> DEFAULT_PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");
    private static final Set<String> KNOWN_PROTOCOLS = Set.of("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1");

    private TlsConfigReader() {
    }

    static TlsConfig read(ConfigNode node) throws ConfigException {
        Map<String, ConfigNode> f = node.fields("certificates", "protocols", "ciphers", "client_auth", "client_ca",
                "reload_check_interval");
        ConfigNode certsNode = f.get("certificates");
        if (certsNode == null) {
            throw node.missing("certificates");
        }
        List<Certificate> certificates = new ArrayList<>();
        for (ConfigNode c : certsNode.list()) {
            certificates.add(certificate(c));
        }
        if (certificates.isEmpty()) {
            throw certsNode.error("at least one certificate is required");
        }
        List<String> protocols = DEFAULT_PROTOCOLS;
        if (f.containsKey("protocols")) {
            protocols = new ArrayList<>();
            for (ConfigNode p : f.get("protocols").list()) {
                String name = p.string().trim();
                if (!KNOWN_PROTOCOLS.contains(name)) {
                    throw p.error("'" + name + "' is not a TLS protocol (expected TLSv1.3 or TLSv1.2)");
                }
                protocols.add(name);
            }
            if (protocols.isEmpty()) {
                throw f.get("protocols").error("at least one protocol is required");
            }
        }
        List<String> ciphers = new ArrayList<>();
        if (f.containsKey("ciphers")) {
            for (ConfigNode c : f.get("ciphers").list()) {
                ciphers.add(cipherSuite(c));
            }
        }
        ClientAuth clientAuth = ClientAuth.NONE;
        if (f.containsKey("client_auth")) {
            String v = f.get("client_auth").string().trim().toUpperCase(Locale.ROOT);
            try {
                clientAuth = ClientAuth.valueOf(v);
            } catch (IllegalArgumentException e) {
                throw f.get("client_auth").error("'" + v.toLowerCase(Locale.ROOT) + "' is not one of none, optional, require");
            }
        }
        Path clientCa = null;
        if (f.containsKey("client_ca")) {
            clientCa = readableFile(f.get("client_ca"));
        } else if (clientAuth != ClientAuth.NONE) {
            throw node.missing("client_ca");
        }
        Duration reload = Duration.ofSeconds(5);
        if (f.containsKey("reload_check_interval")) {
            reload = f.get("reload_check_interval").duration();
        }
        return new TlsConfig(certificates, protocols, ciphers, clientAuth, clientCa, reload);
    }

    /** A suite name the TLS provider in use knows; nginx users tend to write OpenSSL's names, so say which to use. */
    private static String cipherSuite(ConfigNode node) throws ConfigException {
        String name = node.string().trim();
        if (CipherSuites.supported(name)) {
            return name;
        }
        String hint = name.contains("-")
                ? " (this looks like an OpenSSL name: write the IANA name, such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"
                : " (names are IANA's, such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)";
        throw node.error("'" + name + "' is not a cipher suite " + TlsContexts.providerName() + " supports" + hint);
    }

    private static Certificate certificate(ConfigNode node) throws ConfigException {
        Map<String, ConfigNode> f = node.fields("cert", "key", "key_password", "server_names");
        if (!f.containsKey("cert")) {
            throw node.missing("cert");
        }
        if (!f.containsKey("key")) {
            throw node.missing("key");
        }
        Path cert = readableFile(f.get("cert"));
        Path key = readableFile(f.get("key"));
        String password = f.containsKey("key_password") ? f.get("key_password").string() : null;
        List<String> names = new ArrayList<>();
        if (f.containsKey("server_names")) {
            for (ConfigNode n : f.get("server_names").list()) {
                String name = n.string().trim().toLowerCase(Locale.ROOT);
                if (!name.matches("(\\*\\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?")) {
                    throw n.error("'" + name + "' is not a server name (expected e.g. api.example.com or *.example.com)");
                }
                names.add(name);
            }
        }
        try {
            KeyPairCheck.verify(cert.toFile(), key.toFile(), password);
            SslContextBuilder.forServer(cert.toFile(), key.toFile(), password).sslProvider(SslProvider.JDK).build();
        } catch (Exception | Error e) {
            throw f.get("cert").error("cannot use certificate " + cert + " with key " + key + ": " + rootMessage(e));
        }
        return new Certificate(cert, key, password, names);
    }

    private static Path readableFile(ConfigNode node) throws ConfigException {
        Path p = Path.of(node.string().trim());
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            throw node.error("cannot read file " + p);
        }
        return p;
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
