package io.streamgate.upstream;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.streamgate.policy.llm.ModelList;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The models one upstream serves: configured, or discovered from its endpoints' {@code /v1/models} and refreshed by
 * the {@link UpstreamMonitor}. Read by every event loop, replaced whole by the monitor.
 */
public final class ModelCatalog {
    private static final JsonFactory JSON = new JsonFactory();

    private record Listing(List<ModelList.Model> models, Set<String> ids) {
    }

    private final boolean configured;
    private volatile Listing listing;

    /** @param previous the catalog of the upstream this one replaces with the same endpoints, to start from its list */
    ModelCatalog(List<String> configured, ModelCatalog previous) {
        this.configured = configured != null;
        if (configured != null) {
            List<ModelList.Model> models = new ArrayList<>();
            for (String id : configured) {
                models.add(new ModelList.Model(id, describe(id)));
            }
            listing = listing(models);
        } else if (previous != null && !previous.configured) {
            listing = previous.listing;
        }
    }

    /** Whether the list must be fetched from the endpoints. */
    public boolean discovers() {
        return !configured;
    }

    /** Whether the list is known yet (configured, or fetched at least once). */
    public boolean known() {
        return listing != null;
    }

    public boolean serves(String model) {
        Listing l = listing;
        return l != null && l.ids().contains(model);
    }

    /** The models in the order the backend listed them; empty until known. */
    public List<ModelList.Model> models() {
        Listing l = listing;
        return l == null ? List.of() : l.models();
    }

    void discovered(List<ModelList.Model> models) {
        listing = listing(models);
    }

    private static Listing listing(List<ModelList.Model> models) {
        Set<String> ids = new HashSet<>();
        for (ModelList.Model m : models) {
            ids.add(m.id());
        }
        return new Listing(List.copyOf(models), Set.copyOf(ids));
    }

    /** An OpenAI model object for a configured name, since no backend described it. */
    private static String describe(String id) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("id", id);
            g.writeStringField("object", "model");
            g.writeNumberField("created", 0);
            g.writeStringField("owned_by", "streamgate");
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }
}
