package io.streamgate.bench;

import java.util.HashMap;
import java.util.Map;

/** Minimal "--key value" parser for the command-line tools; unknown keys are errors so typos don't go unnoticed. */
final class Args {
    private final Map<String, String> values = new HashMap<>();

    Args(String[] args, Map<String, String> defaults, String usage) {
        values.putAll(defaults);
        for (int i = 0; i < args.length; i++) {
            String key = args[i];
            if (key.equals("-h") || key.equals("--help")) {
                System.out.println(usage);
                System.exit(0);
            }
            if (!key.startsWith("--") || !defaults.containsKey(key.substring(2)) || i + 1 == args.length) {
                System.err.println("bad argument: " + key + "\n" + usage);
                System.exit(2);
            }
            values.put(key.substring(2), args[++i]);
        }
    }

    String string(String key) {
        return values.get(key);
    }

    int integer(String key) {
        return Integer.parseInt(values.get(key));
    }
}
