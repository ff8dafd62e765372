package io.streamgate.bench;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import io.streamgate.config.TlsConfig;
import io.streamgate.tls.TlsContexts;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One full TLS 1.3 handshake (ECDSA P-256 certificate, no resumption) between two in-memory BoringSSL engines, the
 * server's from {@link TlsContexts} as the gateway builds it, so both sides' CPU is counted. No sockets: the load
 * tests' new-connection figures hold the kernel's TCP work and the client's, which hide a change of a few percent
 * on this 2-core machine. Round 12 of docs/performance.md used it to rule out the server's key material as the
 * cost of a full handshake.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled"})
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 2)
public class TlsHandshakeBenchmark {
    private Path dir;
    private SslContext serverContext;
    private SslContext clientContext;
    private final ByteBuffer empty = ByteBuffer.allocate(0);
    private final ByteBuffer toServer = ByteBuffer.allocate(64 * 1024);
    private final ByteBuffer toClient = ByteBuffer.allocate(64 * 1024);
    private final ByteBuffer sink = ByteBuffer.allocate(64 * 1024);

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory("tls-bench");
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                "-keyout", key.toString(), "-out", cert.toString()).redirectErrorStream(true).start();
        String output = new String(openssl.getInputStream().readAllBytes());
        if (openssl.waitFor() != 0) {
            throw new IOException("openssl: " + output);
        }
        TlsConfig tls = new TlsConfig(List.of(new TlsConfig.Certificate(cert, key, null, List.of())),
                List.of("TLSv1.3", "TLSv1.2"), List.of(), TlsConfig.ClientAuth.NONE, null, Duration.ofMinutes(1));
        serverContext = TlsContexts.build(tls, true).map(null);
        clientContext = SslContextBuilder.forClient()
                .sslProvider(SslProvider.OPENSSL)
                .trustManager(InsecureTrustManagerFactory.INSTANCE)
                .protocols("TLSv1.3")
                .build();
        if (!handshake().equals("TLSv1.3")) {
            throw new IllegalStateException("expected a TLS 1.3 handshake");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        ReferenceCountUtil.release(serverContext);
        ReferenceCountUtil.release(clientContext);
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }

    /** A full handshake (a new client engine each time, so nothing is resumed); returns the protocol agreed. */
    @Benchmark
    public String handshake() throws SSLException {
        SSLEngine client = clientContext.newEngine(ByteBufAllocator.DEFAULT, "localhost", 443);
        SSLEngine server = serverContext.newEngine(ByteBufAllocator.DEFAULT);
        try {
            client.beginHandshake();
            server.beginHandshake();
            for (int turn = 0; turn < 20; turn++) {
                // Each side writes what it has, then reads what the other wrote: a flight per turn.
                client.wrap(empty, toServer);
                runTasks(client);
                server.wrap(empty, toClient);
                runTasks(server);
                deliver(toClient, client);
                deliver(toServer, server);
                if (settled(client) && settled(server)) {
                    return server.getSession().getProtocol();
                }
            }
            throw new IllegalStateException("handshake did not finish");
        } finally {
            ReferenceCountUtil.release(client);
            ReferenceCountUtil.release(server);
        }
    }

    private void deliver(ByteBuffer wire, SSLEngine reader) throws SSLException {
        wire.flip();
        while (wire.hasRemaining()) {
            sink.clear();
            if (reader.unwrap(wire, sink).bytesConsumed() == 0) {
                break;
            }
            runTasks(reader);
        }
        wire.compact();
    }

    private static boolean settled(SSLEngine engine) {
        HandshakeStatus status = engine.getHandshakeStatus();
        return status == HandshakeStatus.NOT_HANDSHAKING || status == HandshakeStatus.FINISHED;
    }

    private static void runTasks(SSLEngine engine) {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }
}
