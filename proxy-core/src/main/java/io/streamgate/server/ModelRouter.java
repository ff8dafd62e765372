package io.streamgate.server;

import io.streamgate.config.RouteConfig;
import io.streamgate.policy.llm.ModelList;
import io.streamgate.upstream.Upstream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Which upstream serves the model a request names, and the catalogue a route's clients see. */
final class ModelRouter {
    private ModelRouter() {
    }

    /**
     * Where a request for a model goes.
     *
     * @param upstream the upstream's name, or null when the model is unknown (or the lists are not known yet)
     * @param served   the name to write into the body when an alias was used, else null
     * @param pending  true when the model is unknown only because some upstream's model list has not been fetched yet
     */
    record Choice(String upstream, String served, boolean pending) {
    }

    static Choice choose(RouteConfig.ModelRouting routing, Map<String, Upstream> upstreams, String model) {
        String alias = routing.aliases().get(model);
        String served = alias != null ? alias : model;
        String serving = null;
        boolean pending = false;
        for (String name : routing.upstreams()) {
            Upstream u = upstreams.get(name);
            if (!u.models().known()) {
                pending = true;
            } else if (u.models().serves(served)) {
                if (u.anyAvailable()) {
                    return new Choice(name, alias, false);
                }
                if (serving == null) {
                    serving = name; // serves it but is down now: its own 503 says so, better than a 404
                }
            }
        }
        if (serving != null) {
            return new Choice(serving, alias, false);
        }
        if (routing.fallback() != null) {
            return new Choice(routing.fallback(), null, false);
        }
        return new Choice(null, null, pending);
    }

    /** Whether this request asks for the route's model catalogue. */
    static boolean isCatalogRequest(RouteConfig route, String method, String path) {
        return route.models() != null && route.models().catalog() && (method.equals("GET") || method.equals("HEAD"))
                && path.equals(route.pathPrefix() + (route.pathPrefix().endsWith("/") ? "" : "/") + "models");
    }

    /** The union of the route's upstreams' models and its aliases, as one OpenAI model list. */
    static byte[] catalog(RouteConfig.ModelRouting routing, Map<String, Upstream> upstreams) {
        List<ModelList.Model> all = new ArrayList<>();
        for (String name : routing.upstreams()) {
            all.addAll(upstreams.get(name).models().models());
        }
        return ModelList.write(all, routing.aliases());
    }
}
