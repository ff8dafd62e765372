package io.streamgate.policy.llm;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.async.ByteArrayFeeder;
import io.netty.buffer.ByteBuf;
import java.io.IOException;

/**
 * Reads the root-level {@code usage} of a non-streamed JSON response (chat/completions, completions, embeddings) while
 * the body is relayed. The body's buffers are only looked at: each is copied piecewise into a small reused array and
 * pushed through jackson's non-blocking parser, so nothing is retained and memory stays constant except for jackson's
 * buffer for the string token being parsed (capped at {@link LlmJson#MAX_RESPONSE_STRING_CHARS}).
 *
 * <p>The usage counts only once the body is a complete, valid JSON object: anything malformed (or a body that ends
 * early) stops the scan silently and leaves {@link #usage()} null, so a broken response is charged by estimate rather
 * than by numbers read from half a document. A {@code usage} nested elsewhere (inside a choice, say) is ignored.
 *
 * <p>Not thread-safe: one instance per response, used from the response's event loop. A scanner abandoned before
 * {@link #end()} (the response was aborted) needs no clean-up: it holds no Netty buffer.
 */
public final class JsonUsageScanner {
    /** Small enough to stay in the CPU cache, large enough that a typical response needs few parser round trips. */
    private static final int SCRATCH_BYTES = 2048;

    private final TopLevelUsage document = new TopLevelUsage();
    private JsonParser parser;
    private ByteArrayFeeder feeder;
    private byte[] scratch;
    private boolean stopped;
    private Usage usage;

    /**
     * Looks at the readable bytes of {@code chunk} without changing its indices or reference count.
     */
    public void feed(ByteBuf chunk) {
        if (stopped || (parser == null && !open())) {
            return;
        }
        int index = chunk.readerIndex();
        int end = chunk.writerIndex();
        while (index < end && !stopped) {
            int n = Math.min(scratch.length, end - index);
            chunk.getBytes(index, scratch, 0, n);
            index += n;
            try {
                feeder.feedInput(scratch, 0, n);
            } catch (IOException e) {
                fail();
                return;
            }
            drain();
        }
    }

    /** The body is complete: a document that is still open is treated as malformed. Idempotent. */
    public void end() {
        if (stopped || (parser == null && !open())) {
            return;
        }
        feeder.endOfInput();
        drain();
        if (!stopped) {
            if (document.complete()) {
                usage = document.usage();
            }
            close();
        }
    }

    /** The root-level usage of the complete body, or null (not yet ended, none reported, or not valid JSON). */
    public Usage usage() {
        return usage;
    }

    /** Creates the parser on first use, so a response that never gets a body costs nothing. */
    private boolean open() {
        try {
            parser = LlmJson.RESPONSES.createNonBlockingByteArrayParser();
        } catch (IOException e) {
            // Creating an in-memory parser does no I/O; treat the impossible like malformed input.
            stopped = true;
            return false;
        }
        feeder = (ByteArrayFeeder) parser.getNonBlockingInputFeeder();
        scratch = new byte[SCRATCH_BYTES];
        return true;
    }

    /** Pulls every token the fed bytes complete, leaving the parser ready for the next piece. */
    private void drain() {
        try {
            JsonToken token;
            while ((token = parser.nextToken()) != null && token != JsonToken.NOT_AVAILABLE) {
                if (!document.accept(token, parser)) {
                    fail();
                    return;
                }
            }
        } catch (IOException e) {
            fail();
        }
    }

    private void fail() {
        usage = null;
        close();
    }

    private void close() {
        stopped = true;
        scratch = null;
        try {
            // Returns jackson's pooled buffers.
            parser.close();
        } catch (IOException e) {
            // An in-memory parser has no input to close, so there is nothing left to clean up.
        }
    }
}
