package io.streamgate.observe;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The counters of one name that differ in two label values, registered on first use and then found by two map
 * lookups, so a meter counted on every request costs no builder, tag list or string. Thread-safe.
 */
final class CounterFamily {
    private final MeterRegistry registry;
    private final String name;
    private final String description;
    private final String firstLabel;
    private final String secondLabel;
    /** Labels every counter of the family carries, as name, value pairs. */
    private final String[] fixedTags;
    private final ConcurrentHashMap<String, ConcurrentHashMap<String, Counter>> counters = new ConcurrentHashMap<>();

    CounterFamily(MeterRegistry registry, String name, String description, String firstLabel, String secondLabel,
                  String... fixedTags) {
        this.registry = registry;
        this.name = name;
        this.description = description;
        this.firstLabel = firstLabel;
        this.secondLabel = secondLabel;
        this.fixedTags = fixedTags;
    }

    Counter get(String first, String second) {
        ConcurrentHashMap<String, Counter> bySecond = counters.get(first);
        if (bySecond == null) {
            bySecond = counters.computeIfAbsent(first, k -> new ConcurrentHashMap<>());
        }
        Counter c = bySecond.get(second);
        if (c == null) {
            c = bySecond.computeIfAbsent(second, k -> Counter.builder(name).description(description).tags(fixedTags)
                    .tag(firstLabel, first).tag(secondLabel, k).register(registry));
        }
        return c;
    }
}
