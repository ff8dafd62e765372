package io.streamgate.server;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The parsed command line. Parsing is strict: an unknown option or a stray argument is an error, so a typo
 * never starts a gateway that silently ignores what the operator meant.
 *
 * @param action      what to do
 * @param configFile  the YAML file; present for {@link Action#RUN} and {@link Action#CHECK}
 * @param demoBackend where to start the built-in demo backend, or null for none (only with {@link Action#RUN})
 */
record CommandLine(Action action, Path configFile, InetSocketAddress demoBackend) {

    enum Action { RUN, CHECK, HELP, VERSION }

    CommandLine {
        Objects.requireNonNull(action, "action");
    }

    static final String DEFAULT_DEMO_BACKEND = "127.0.0.1:8000";

    static final String USAGE = String.join("\n",
            "Usage: streamgate --config FILE [--demo-backend [HOST:PORT]]",
            "       streamgate --check --config FILE",
            "       streamgate --help | --version",
            "",
            "Options:",
            "  -c, --config FILE              the YAML configuration (see docs/configuration.md)",
            "  -t, --check                    validate the configuration and exit: 0 if valid, 1 if not",
            "      --demo-backend [HOST:PORT] also start a fake OpenAI-compatible backend for trying things out",
            "                                 (default " + DEFAULT_DEMO_BACKEND + "; it is a demo, not a model server)",
            "  -h, --help                     print this help and exit",
            "  -v, --version                  print the version and exit",
            "");

    /** A command line the gateway cannot act on; the message says why, for the operator. */
    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    static CommandLine parse(String... args) throws UsageException {
        Path config = null;
        String demo = null;
        boolean check = false;
        boolean help = false;
        boolean version = false;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String name = arg;
            String inlineValue = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                name = arg.substring(0, eq);
                inlineValue = arg.substring(eq + 1);
            }
            switch (name) {
                case "-c", "--config" -> {
                    if (config != null) {
                        throw new UsageException("--config given twice");
                    }
                    String value = inlineValue != null ? inlineValue : requiredValue(args, ++i, name);
                    if (value.isEmpty()) {
                        throw new UsageException(name + " needs a file name");
                    }
                    config = Path.of(value);
                }
                case "--demo-backend" -> {
                    if (demo != null) {
                        throw new UsageException("--demo-backend given twice");
                    }
                    if (inlineValue != null) {
                        demo = inlineValue;
                    } else if (i + 1 < args.length && !args[i + 1].startsWith("-")) {
                        demo = args[++i];
                    } else {
                        demo = DEFAULT_DEMO_BACKEND;
                    }
                }
                case "-t", "--check" -> check = noValue(name, inlineValue);
                case "-h", "--help" -> help = noValue(name, inlineValue);
                case "-v", "--version" -> version = noValue(name, inlineValue);
                default -> throw new UsageException(arg.startsWith("-")
                        ? "unknown option " + name
                        : "unexpected argument '" + arg + "'");
            }
        }
        if (help) {
            return new CommandLine(Action.HELP, null, null);
        }
        if (version) {
            return new CommandLine(Action.VERSION, null, null);
        }
        if (config == null) {
            throw new UsageException("missing --config FILE");
        }
        if (check) {
            if (demo != null) {
                throw new UsageException("--demo-backend cannot be combined with --check");
            }
            return new CommandLine(Action.CHECK, config, null);
        }
        return new CommandLine(Action.RUN, config, demo == null ? null : hostAndPort(demo));
    }

    private static String requiredValue(String[] args, int i, String option) throws UsageException {
        if (i >= args.length || args[i].startsWith("-")) {
            throw new UsageException(option + " needs a value");
        }
        return args[i];
    }

    private static boolean noValue(String option, String inlineValue) throws UsageException {
        if (inlineValue != null) {
            throw new UsageException(option + " takes no value");
        }
        return true;
    }

    /** Parses {@code host:port} or {@code [v6-address]:port} and resolves the host now, so a bad name fails early. */
    static InetSocketAddress hostAndPort(String text) throws UsageException {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new UsageException("'" + text + "' is not HOST:PORT");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.indexOf(':') >= 0) {
            throw new UsageException("'" + text + "': write an IPv6 address in brackets, e.g. [::1]:8000");
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new UsageException("'" + text + "': port is not a number");
        }
        if (port < 0 || port > 65535) {
            throw new UsageException("'" + text + "': port out of range (0..65535)");
        }
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (address.isUnresolved()) {
            throw new UsageException("'" + text + "': cannot resolve host '" + host + "'");
        }
        return address;
    }
}
