package io.streamgate.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * A YAML node with its key path, so every typed read can report file, line and key on failure.
 * Reads are strict: a mapping must be read through {@link #fields(String...)}, which rejects unknown keys.
 */
final class ConfigNode {
    private final String source;
    private final String path;
    private final Node node;
    private final EnvSubstitution env;

    ConfigNode(String source, String path, Node node, EnvSubstitution env) {
        this.source = source;
        this.path = path;
        this.node = node;
        this.env = env;
    }

    String path() {
        return path;
    }

    ConfigException error(String problem) {
        return new ConfigException(source, node.getStartMark().getLine() + 1, node.getStartMark().getColumn() + 1, path, problem);
    }

    /** A required key is absent from this mapping: point at the mapping, name the key. */
    ConfigException missing(String key) {
        String where = path.isEmpty() ? key : path + "." + key;
        return new ConfigException(source, node.getStartMark().getLine() + 1, node.getStartMark().getColumn() + 1, where,
                "required key is missing");
    }

    /** The entries of a mapping, checked against the allowed keys; duplicate keys are errors too. */
    Map<String, ConfigNode> fields(String... allowed) throws ConfigException {
        Map<String, ConfigNode> map = entries();
        Set<String> known = Set.of(allowed);
        for (NodeTuple t : ((MappingNode) node).getValue()) {
            String key = ((ScalarNode) t.getKeyNode()).getValue();
            if (!known.contains(key)) {
                String childPath = path.isEmpty() ? key : path + "." + key;
                throw new ConfigNode(source, childPath, t.getKeyNode(), env)
                        .error("unknown key (expected one of: " + String.join(", ", new TreeSet<>(known)) + ")");
            }
        }
        return map;
    }

    /** The entries of a mapping whose keys are names chosen by the operator (e.g. upstream names). */
    Map<String, ConfigNode> entries() throws ConfigException {
        if (!(node instanceof MappingNode)) {
            throw error("expected a mapping, found " + describe());
        }
        Map<String, ConfigNode> map = new LinkedHashMap<>();
        for (NodeTuple t : ((MappingNode) node).getValue()) {
            if (!(t.getKeyNode() instanceof ScalarNode)) {
                throw new ConfigNode(source, path, t.getKeyNode(), env).error("keys must be plain strings");
            }
            String key = ((ScalarNode) t.getKeyNode()).getValue();
            String childPath = path.isEmpty() ? key : path + "." + key;
            ConfigNode child = new ConfigNode(source, childPath, t.getValueNode(), env);
            if (map.putIfAbsent(key, child) != null) {
                throw new ConfigNode(source, childPath, t.getKeyNode(), env).error("duplicate key");
            }
        }
        return map;
    }

    List<ConfigNode> list() throws ConfigException {
        if (!(node instanceof SequenceNode)) {
            throw error("expected a list, found " + describe());
        }
        List<ConfigNode> items = new ArrayList<>();
        List<Node> values = ((SequenceNode) node).getValue();
        for (int i = 0; i < values.size(); i++) {
            items.add(new ConfigNode(source, path + "[" + i + "]", values.get(i), env));
        }
        return items;
    }

    String string() throws ConfigException {
        if (!(node instanceof ScalarNode) || node.getTag().equals(Tag.NULL)) {
            throw error("expected a string, found " + describe());
        }
        try {
            return env.apply(((ScalarNode) node).getValue());
        } catch (IllegalArgumentException e) {
            throw error(e.getMessage());
        }
    }

    int integer(int min, int max) throws ConfigException {
        String s = string().trim();
        long v;
        try {
            v = Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw error("'" + s + "' is not an integer");
        }
        if (v < min || v > max) {
            throw error(v + " is out of range (expected " + min + ".." + max + ")");
        }
        return (int) v;
    }

    boolean isScalar() {
        return node instanceof ScalarNode && !node.getTag().equals(Tag.NULL);
    }

    /** The enum constant named (case-insensitively) by this scalar; the error lists the choices. */
    <E extends Enum<E>> E enumValue(Class<E> type) throws ConfigException {
        String s = string().trim();
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(s)) {
                return e;
            }
            names.add(e.name().toLowerCase(java.util.Locale.ROOT));
        }
        throw error("'" + s + "' is not one of " + String.join(", ", names));
    }

    boolean bool() throws ConfigException {
        String s = string().trim();
        if (s.equals("true")) {
            return true;
        }
        if (s.equals("false")) {
            return false;
        }
        throw error("'" + s + "' is not a boolean (expected true or false)");
    }

    Duration duration() throws ConfigException {
        try {
            return Units.duration(string());
        } catch (IllegalArgumentException e) {
            throw error(e.getMessage());
        }
    }

    long size() throws ConfigException {
        try {
            return Units.size(string());
        } catch (IllegalArgumentException e) {
            throw error(e.getMessage());
        }
    }

    private String describe() {
        if (node instanceof MappingNode) {
            return "a mapping";
        }
        if (node instanceof SequenceNode) {
            return "a list";
        }
        if (node.getTag().equals(Tag.NULL)) {
            return "nothing";
        }
        return "'" + ((ScalarNode) node).getValue() + "'";
    }
}
