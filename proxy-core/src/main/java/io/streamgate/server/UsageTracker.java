package io.streamgate.server;

import io.netty.buffer.ByteBuf;
import io.streamgate.observe.ExchangeRecord;
import io.streamgate.observe.TrafficMeters;
import io.streamgate.policy.llm.JsonUsageScanner;
import io.streamgate.policy.llm.LlmRequest;
import io.streamgate.policy.llm.SseUsageFilter;
import io.streamgate.policy.llm.Usage;
import java.util.List;

/**
 * Reads the LLM token usage of one response as it is relayed: from the final usage chunk of an event stream (removed
 * there when the gateway asked for it and the client did not), or from the {@code usage} member of a JSON body.
 * When no usage arrives (the client left, the stream broke) the charge falls back to the prompt estimate plus one
 * token per content event relayed, so aborting is no way around a budget; when it cannot be read (the response is
 * compressed) the whole admission estimate stays charged. Confined to the exchange's event loop.
 */
final class UsageTracker {
    /** An event larger than this is relayed without looking inside. */
    private static final int MAX_EVENT_BYTES = 1 << 20;

    private final LlmRequest request;
    private final boolean injected;
    private SseUsageFilter events;
    private JsonUsageScanner json;
    /** Whether the backend worked on the request: it answered, or the client left after it was sent. */
    private boolean worked;
    /** The client left after the request was sent and before the response began. */
    private boolean leftWhileWorking;
    /** The response has a Content-Encoding: its usage, if any, is out of reach. */
    private boolean compressed;

    /**
     * @param request  the parsed request body, or null when there was none or it was not JSON
     * @param injected whether the gateway added {@code stream_options.include_usage} to the request
     */
    UsageTracker(LlmRequest request, boolean injected) {
        this.request = request;
        this.injected = injected;
    }

    /**
     * @param encoded whether the body has a Content-Encoding (the backend ignored the gateway's
     *                {@code Accept-Encoding: identity}): compressed bytes are relayed untouched, and the charge is the
     *                admission estimate
     */
    void onResponseHead(boolean eventStream, boolean encoded) {
        worked = true;
        if (encoded) {
            compressed = true;
            return;
        }
        if (eventStream) {
            events = new SseUsageFilter(injected, MAX_EVENT_BYTES);
        } else {
            json = new JsonUsageScanner();
        }
    }

    /**
     * Whether the usage-only event is taken out of a plain (not encoded) event stream: the gateway asked for it on the
     * client's behalf. Known before the response arrives.
     */
    boolean removesUsageEvent() {
        return injected;
    }

    /** Whether body pieces must go through {@link #filter}: event streams, whose usage chunk may be removed. */
    boolean filtersBody() {
        return events != null;
    }

    /** Takes ownership of {@code content}; what to relay is added to {@code out}. */
    void filter(ByteBuf content, boolean last, List<ByteBuf> out) {
        events.feed(content, out);
        if (last) {
            events.finish(out);
        }
    }

    /** Looks at a piece of a JSON body without taking it. */
    void scan(ByteBuf content, boolean last) {
        if (json != null) {
            json.feed(content);
            if (last) {
                json.end();
            }
        }
    }

    /** The usage the backend reported, or null. */
    Usage reported() {
        if (events != null) {
            return events.usage();
        }
        return json == null ? null : json.usage();
    }

    /**
     * The client left after the whole request was sent and before the response began: the backend was working on it
     * (vLLM sends a non-streamed completion's head only when it is done), so the estimate admission charged stays
     * charged, completion budget included: nothing shows how much of it was generated.
     */
    void clientLeft() {
        worked = true;
        leftWhileWorking = true;
    }

    /**
     * What to charge: the reported total, else the estimate of what was consumed; 0 when the backend never worked on
     * the request (it was never sent whole, or the backend failed before answering). The estimate is the admission
     * estimate, completion budget included, when nothing shows how much was generated: the client left before the
     * response began, or the response was compressed (neither its usage nor its events can be read, and the prompt
     * alone would make every completion free to a backend that compresses); else the prompt plus the events relayed.
     */
    long tokensToCharge() {
        Usage u = reported();
        if (u != null) {
            return u.total();
        }
        if (!worked) {
            return 0;
        }
        if (leftWhileWorking || compressed) {
            return request == null ? 0 : request.admissionEstimate();
        }
        long prompt = request == null ? 0 : request.promptTokenEstimate();
        return prompt + (events == null ? 0 : events.contentEvents());
    }

    /**
     * The exchange is over: releases what an event stream filter still holds, records the usage in {@code record}
     * and meters it. Returns the tokens to charge against the budgets, see {@link #tokensToCharge}.
     */
    long settle(ExchangeRecord record, TrafficMeters meters, String route) {
        if (events != null) {
            events.discard();
        }
        Usage reported = reported();
        long charge = tokensToCharge();
        if (reported != null) {
            record.promptTokens = reported.promptTokens();
            record.completionTokens = reported.completionTokens();
        } else if (charge > 0) {
            record.promptTokens = charge; // an estimate: the backend never said
            record.tokensEstimated = true;
        }
        if (record.promptTokens > 0 || record.completionTokens > 0) {
            meters.tokens(record.identity, route, Math.max(0, record.promptTokens), Math.max(0, record.completionTokens));
        }
        return charge;
    }
}
