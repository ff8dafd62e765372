package io.streamgate.tls;

import io.netty.handler.ssl.SslContext;
import io.netty.util.Mapping;
import io.streamgate.config.TlsConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the current SNI mapping and rebuilds it when a certificate, key or CA file changes on disk (cert-manager
 * and certbot rewrite files in place). New connections get the new certificates; established ones keep theirs. A
 * file that does not load is logged and ignored: the last good certificates stay in use. Checks run on their own
 * thread, never on an event loop: reading files and parsing keys block.
 */
public final class CertificateReloader implements Mapping<String, SslContext>, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CertificateReloader.class);

    private final TlsConfig tls;
    private final boolean http2;
    private final AtomicReference<Mapping<String, SslContext>> current;
    private final ScheduledExecutorService checker;
    private byte[] fingerprint;

    public CertificateReloader(TlsConfig tls, boolean http2) throws IOException {
        this.tls = tls;
        this.http2 = http2;
        this.fingerprint = fingerprint();
        this.current = new AtomicReference<>(TlsContexts.build(tls, http2));
        if (tls.reloadCheckInterval().isZero()) {
            checker = null;
        } else {
            checker = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "streamgate-cert-reload");
                t.setDaemon(true);
                return t;
            });
            long period = tls.reloadCheckInterval().toMillis();
            checker.scheduleWithFixedDelay(this::check, period, period, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public SslContext map(String serverName) {
        return current.get().map(serverName);
    }

    /** Reloads now if any file changed; returns true when new certificates are in use. */
    public synchronized boolean check() {
        byte[] now;
        try {
            now = fingerprint();
        } catch (IOException e) {
            LOG.error("certificate reload: cannot read certificate files, keeping the current ones: {}", e.toString());
            return false;
        }
        if (Arrays.equals(now, fingerprint)) {
            return false;
        }
        try {
            current.set(TlsContexts.build(tls, http2));
            fingerprint = now;
            LOG.info("certificate reload: new certificates in use for new connections");
            return true;
        } catch (Exception | Error e) {
            // Remember the broken state too, so the error is logged once per change, not on every check.
            fingerprint = now;
            LOG.error("certificate reload: rejected the changed files, keeping the current certificates: {}", e.toString());
            return false;
        }
    }

    private byte[] fingerprint() throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (Path p : files()) {
            digest.update(Files.readAllBytes(p));
            digest.update((byte) 0);
        }
        return digest.digest();
    }

    private List<Path> files() {
        List<Path> files = new ArrayList<>();
        for (TlsConfig.Certificate c : tls.certificates()) {
            files.add(c.cert());
            files.add(c.key());
        }
        if (tls.clientCa() != null) {
            files.add(tls.clientCa());
        }
        return files;
    }

    @Override
    public void close() {
        if (checker != null) {
            checker.shutdownNow();
        }
    }
}
