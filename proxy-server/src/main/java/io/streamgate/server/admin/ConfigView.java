package io.streamgate.server.admin;

import io.streamgate.config.ConfigLoader;
import io.streamgate.server.ConfigFile;
import java.io.StringReader;
import java.io.StringWriter;
import java.util.Set;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * The active configuration as the operator wrote it, with every secret replaced, plus its hash and load time.
 * Redaction works on the YAML tree (not on text), so a secret cannot slip through by formatting; {@code ${VAR}}
 * references are kept, since they name a secret without holding it.
 *
 * @param text     the redacted YAML
 * @param sha256   hex SHA-256 of the file's bytes as loaded
 * @param loadedAt when it was loaded (epoch milliseconds)
 */
record ConfigView(String source, String text, String sha256, long loadedAt) {
    static final String REDACTED = "<redacted>";
    /** Keys whose values are secrets wherever they appear. */
    private static final Set<String> SECRET_ANYWHERE = Set.of("password", "key_password", "api_key", "upstream_api_key");

    /**
     * The view of a file the gateway parsed and runs. It composes with the loader's size limit and otherwise more
     * leniently than the loader (duplicate keys, aliases), so it does not fail on such a file: a failure here would
     * stop the start, or follow a reload that had already taken effect.
     */
    static ConfigView of(ConfigFile file, long loadedAt) {
        LoaderOptions limits = new LoaderOptions();
        limits.setCodePointLimit(ConfigLoader.MAX_CODE_POINTS);
        Node root = new Yaml(limits).compose(new StringReader(file.text()));
        if (root instanceof MappingNode top) {
            for (NodeTuple section : top.getValue()) {
                if (section.getKeyNode() instanceof ScalarNode name) {
                    redact(section.getValueNode(), name.getValue());
                }
            }
        }
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        StringWriter out = new StringWriter();
        if (root != null) {
            new Yaml(options).serialize(root, out);
        }
        return new ConfigView(file.path().toString(), out.toString(), file.sha256(), loadedAt);
    }

    /** Replaces the secrets below {@code node}, which sits in the top-level {@code section}. */
    private static void redact(Node node, String section) {
        if (node instanceof MappingNode mapping) {
            for (int i = 0; i < mapping.getValue().size(); i++) {
                NodeTuple t = mapping.getValue().get(i);
                if (t.getKeyNode() instanceof ScalarNode k && t.getValueNode() instanceof ScalarNode v
                        && isSecret(section, k.getValue(), v.getValue())) {
                    ScalarNode hidden = new ScalarNode(Tag.STR, REDACTED, v.getStartMark(), v.getEndMark(),
                            DumperOptions.ScalarStyle.DOUBLE_QUOTED);
                    mapping.getValue().set(i, new NodeTuple(t.getKeyNode(), hidden));
                } else {
                    redact(t.getValueNode(), section);
                }
            }
        } else if (node instanceof SequenceNode sequence) {
            sequence.getValue().forEach(n -> redact(n, section));
        }
    }

    /**
     * API keys and their hashes, the keys sent to backends (an upstream's {@code api_key}, a route's
     * {@code upstream_api_key}), the admin token, a Redis URL with credentials, and passwords of any kind.
     */
    private static boolean isSecret(String section, String key, String value) {
        if (isReference(value)) {
            return false;
        }
        return SECRET_ANYWHERE.contains(key)
                || section.equals("api_keys") && (key.equals("key") || key.equals("sha256"))
                || section.equals("admin") && key.equals("token")
                || section.equals("redis") && key.equals("url") && value.contains("@");
    }

    /**
     * A value that is only an environment reference, like {@code ${VLLM_API_KEY}}, holds no secret itself; one with a
     * default ({@code ${X:-...}}) might, and is redacted.
     */
    private static boolean isReference(String value) {
        return value.matches("\\$\\{[A-Za-z_][A-Za-z0-9_]*}");
    }
}
