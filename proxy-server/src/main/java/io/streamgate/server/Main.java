package io.streamgate.server;

import io.streamgate.config.ConfigException;
import io.streamgate.config.ConfigLoader;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * The {@code streamgate} command. Everything except running the gateway (help, version, config check) stays
 * out of the logging and networking machinery, so those answers are quick and their output is plain text.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        // Netty's default leak detection touches every message in every pipeline: about 8 % of the CPU a proxied
        // request costs here (benchmarks/results, docs/performance.md). The tests run it at paranoid; a production
        // process runs without it unless asked for (-Dio.netty.leakDetection.level=simple). Set before Netty loads.
        if (System.getProperty("io.netty.leakDetection.level") == null && System.getProperty("io.netty.leakDetectionLevel") == null) {
            System.setProperty("io.netty.leakDetection.level", "disabled");
        }
        // When the gateway ran and was stopped by a signal, the JVM is already shutting down and this call just
        // waits for the shutdown hook; the process then exits with the JVM's status for that signal.
        System.exit(execute(args, System.out, System.err));
    }

    /** Runs the command and returns the process exit status: 0 success, 1 failure, 2 bad command line. */
    static int execute(String[] args, PrintStream out, PrintStream err) {
        CommandLine commandLine;
        try {
            commandLine = CommandLine.parse(args);
        } catch (CommandLine.UsageException e) {
            err.println("streamgate: " + e.getMessage());
            err.print(CommandLine.USAGE);
            return 2;
        }
        switch (commandLine.action()) {
            case HELP:
                out.print(CommandLine.USAGE);
                return 0;
            case VERSION:
                out.println("streamgate " + Version.current());
                return 0;
            case CHECK:
                return check(commandLine.configFile(), out, err);
            default:
                return GatewayLauncher.run(commandLine.configFile(), commandLine.demoBackend(), err);
        }
    }

    /**
     * Like {@code nginx -t}: validate the whole file without binding anything. The file is read and reported on by
     * the loader a start uses, so {@code --check} and a start give the same message for the same file.
     */
    static int check(Path configFile, PrintStream out, PrintStream err) {
        try {
            ConfigLoader.load(configFile);
        } catch (ConfigException e) {
            err.println(e.getMessage());
            return 1;
        }
        out.println("configuration file " + configFile + " is valid");
        return 0;
    }
}
