package io.streamgate.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged gateway on Java 24 or later started as the README's first command starts it, without
 * {@code --sun-misc-unsafe-memory-access=allow}: Netty then runs without {@code sun.misc.Unsafe}, yet still knows its
 * direct buffers' addresses, and the gateway must proxy as it does everywhere else. A Java 17 test JVM cannot show
 * that case, so this test runs on a newer Java when it finds one: {@code STREAMGATE_TEST_JAVA} (a
 * {@code bin/java}), else the tests' own Java if it is 24+, else the newest Java 24+ under {@code /usr/lib/jvm};
 * without one it is skipped, and says so.
 */
@Timeout(120)
class NewerJavaIT {
    private static final int FIRST_FEATURE_WITHOUT_UNSAFE = 24;
    private static final Pattern RELEASE_VERSION = Pattern.compile("(?m)^JAVA_VERSION=\"(\\d+)");

    @TempDir
    Path dir;

    @Test
    void proxiesWithoutUnsafeOnJava24AndLater() throws Exception {
        Optional<Path> java = newerJava();
        Assumptions.assumeTrue(java.isPresent(), "no Java " + FIRST_FEATURE_WITHOUT_UNSAFE
                + "+ found (set STREAMGATE_TEST_JAVA to its bin/java): the gateway without Unsafe is not tested here");
        int gatewayPort = FreePort.find();
        int demoPort = FreePort.find();
        Path config = GatewayConfigs.write(dir, gatewayPort, demoPort);
        try (JarProcess gateway = JarProcess.startOn(java.get(), Path.of("target", "it-logs", "gateway-newer-java.log"),
                "--config", config.toString(), "--demo-backend", "127.0.0.1:" + demoPort)) {
            URI base = URI.create("http://127.0.0.1:" + gatewayPort);
            gateway.awaitReady(base.resolve("/health"), Duration.ofSeconds(60));
            assertTrue(gateway.log().contains("Netty runs without sun.misc.Unsafe"),
                    "the case under test is Netty without Unsafe:\n" + gateway.log());

            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            // A request without a body and one with: both encoders' header lines, upstream and back.
            HttpResponse<String> models = client.send(HttpRequest.newBuilder(base.resolve("/v1/models"))
                    .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, models.statusCode(), models.body());
            assertTrue(models.body().contains("\"object\":\"list\""), models.body());
            HttpResponse<String> chat = DemoChat.streamed(client, base);
            assertEquals(200, chat.statusCode(), chat.body());
            assertTrue(chat.body().strip().endsWith("data: [DONE]"), chat.body());

            gateway.terminateAndAssertCleanExit(Duration.ofSeconds(25));
        }
    }

    private static Optional<Path> newerJava() throws IOException {
        String configured = System.getenv("STREAMGATE_TEST_JAVA");
        if (configured != null && !configured.isBlank()) {
            return Optional.of(Path.of(configured));
        }
        if (Runtime.version().feature() >= FIRST_FEATURE_WITHOUT_UNSAFE) { // the tests already run on such a Java
            return Optional.of(Path.of(System.getProperty("java.home"), "bin", "java"));
        }
        Path jvms = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvms)) {
            return Optional.empty();
        }
        try (Stream<Path> homes = Files.list(jvms)) {
            return homes.filter(home -> feature(home) >= FIRST_FEATURE_WITHOUT_UNSAFE)
                    .max(Comparator.comparingInt(NewerJavaIT::feature))
                    .map(home -> home.resolve("bin").resolve("java"))
                    .filter(Files::isExecutable);
        }
    }

    /** The feature release a JDK's {@code release} file names, or 0. */
    private static int feature(Path home) {
        try {
            Matcher m = RELEASE_VERSION.matcher(Files.readString(home.resolve("release")));
            return m.find() ? Integer.parseInt(m.group(1)) : 0;
        } catch (IOException | RuntimeException unreadable) {
            return 0;
        }
    }
}
