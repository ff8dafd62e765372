package io.streamgate.config;

import java.util.function.Function;

/**
 * Replaces {@code ${VAR}} and {@code ${VAR:-default}} in a scalar. {@code $$} stands for a literal {@code $}.
 * An unset variable without a default is an error rather than an empty string: a missing secret must not
 * silently become "no secret".
 */
final class EnvSubstitution {
    private final Function<String, String> env;

    EnvSubstitution(Function<String, String> env) {
        this.env = env;
    }

    String apply(String text) {
        if (text.indexOf('$') < 0) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length());
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c != '$' || i + 1 >= text.length()) {
                out.append(c);
                i++;
            } else if (text.charAt(i + 1) == '$') {
                out.append('$');
                i += 2;
            } else if (text.charAt(i + 1) == '{') {
                int end = text.indexOf('}', i + 2);
                if (end < 0) {
                    // The value itself is not repeated: it may be a secret.
                    throw new IllegalArgumentException("unterminated '${' in the value");
                }
                out.append(resolve(text.substring(i + 2, end)));
                i = end + 1;
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }

    private String resolve(String expr) {
        int sep = expr.indexOf(":-");
        String name = sep < 0 ? expr : expr.substring(0, sep);
        if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("'${" + expr + "}' is not a valid variable reference");
        }
        String value = env.apply(name);
        if (value != null && !value.isEmpty()) {
            return value;
        }
        if (sep >= 0) {
            return expr.substring(sep + 2);
        }
        throw new IllegalArgumentException("environment variable " + name + " is not set (use ${" + name + ":-default} for a default)");
    }
}
