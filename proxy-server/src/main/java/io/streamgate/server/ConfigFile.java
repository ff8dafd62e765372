package io.streamgate.server;

import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import io.streamgate.config.ProxyConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * One version of the config file, read once. The running configuration, its hash (metrics, logs, the file watch) and
 * the redacted view of {@code /admin/config} are all made from these bytes: were each to read the file again, a file
 * rewritten in between would make them disagree, and the watch would take the new content for the one loaded.
 */
public final class ConfigFile {
    private final Path path;
    private final byte[] bytes;
    private final String sha256;

    private ConfigFile(Path path, byte[] bytes) {
        this.path = path;
        this.bytes = bytes;
        this.sha256 = sha256(bytes);
    }

    /** Reads the file as it is now; an IOException when it is gone or unreadable (perhaps only for a moment). */
    public static ConfigFile read(Path path) throws IOException {
        return new ConfigFile(path, Files.readAllBytes(path));
    }

    public Path path() {
        return path;
    }

    /** Lower-case hex SHA-256 of the bytes: how the file is named in metrics, logs and /admin/config. */
    public String sha256() {
        return sha256;
    }

    /** The bytes as text; malformed UTF-8 becomes U+FFFD, which {@link #parse()} refuses. */
    public String text() {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** Parses and validates these bytes, as {@link ConfigLoader#load(Path)} does a file. */
    ProxyConfig parse() throws ConfigException {
        return ConfigLoader.parse(bytes, path);
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }
}
