package io.streamgate.policy.llm;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.netty.buffer.ByteBuf;
import io.netty.util.ByteProcessor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Relays the Server-Sent Events body of a streamed completion while reading the usage the backend reports, and
 * removes the usage-only event when the gateway asked for it on the client's behalf.
 *
 * <p>Events end at a blank line, with lines ended by LF, CRLF or CR as the SSE specification allows. Every complete
 * event is relayed as soon as its last byte arrives, normally as a slice of the incoming buffer (runs of consecutive
 * events as one slice, a buffer made only of complete events as itself); only the bytes of an unfinished event are
 * held back, copied, until its end arrives. An event longer than {@code maxEventBytes} is relayed as it arrives and
 * never looked into, which bounds the memory held per response.
 *
 * <p>Ordinary token events are classified by byte comparisons only: their data is parsed as JSON only when it contains
 * {@code "usage"} with a value other than {@code null} (OpenAI sends {@code "usage":null} on every chunk once usage is
 * requested; vLLM leaves it out). An event is <em>usage-only</em> when its root {@code usage} is an object and its
 * {@code choices} is empty or absent; {@code data: [DONE]} never is.
 *
 * <p>Not thread-safe: one instance per response, used from the response's event loop.
 */
public final class SseUsageFilter {
    private static final byte CR = '\r';
    private static final byte LF = '\n';
    private static final byte[] DATA = ascii("data");
    private static final byte[] DONE = ascii("[DONE]");
    private static final byte[] USAGE_KEY = ascii("\"usage\"");
    private static final byte[] NULL = ascii("null");
    private static final int MIN_HELD_CAPACITY = 256;

    private enum Kind { NO_DATA, DONE, CONTENT, USAGE_ONLY }

    private final boolean stripUsageOnlyEvents;
    private final int maxEventBytes;
    private final UsageKeyFinder usageKey = new UsageKeyFinder();

    /** Nothing of the current line has been seen yet: a line end here makes a blank line, which ends the event. */
    private boolean lineEmpty = true;
    /** The last byte was a CR line end, so an LF right after it is the rest of that CRLF. */
    private boolean afterCr;
    /** The last buffer ended with an event's final CR: an LF starting the next one completes that event. */
    private boolean strayLf;
    /** ...and that event was removed, so the LF goes too. */
    private boolean strayLfRemoved;
    /** The bytes of the unfinished event, copied; null when none (never empty). */
    private ByteBuf held;
    /** The unfinished event outgrew maxEventBytes and is relayed as it arrives. */
    private boolean oversized;
    private boolean closed;
    private Usage usage;
    private long contentEvents;

    /**
     * @param stripUsageOnlyEvents drop the usage-only event (the gateway injected {@code include_usage} and the client
     *                             never asked for it)
     * @param maxEventBytes        events longer than this are relayed unparsed as they arrive
     */
    public SseUsageFilter(boolean stripUsageOnlyEvents, int maxEventBytes) {
        if (maxEventBytes <= 0) {
            throw new IllegalArgumentException("maxEventBytes must be positive: " + maxEventBytes);
        }
        this.stripUsageOnlyEvents = stripUsageOnlyEvents;
        this.maxEventBytes = maxEventBytes;
    }

    /**
     * Takes ownership of {@code chunk} and appends to {@code out}, in order, the buffers to relay now; their ownership
     * passes to the caller. No empty buffer is ever added. After {@link #finish} or {@link #discard} the chunk is just
     * released.
     */
    public void feed(ByteBuf chunk, List<ByteBuf> out) {
        if (closed) {
            chunk.release();
            return;
        }
        Run run = new Run(chunk, out);
        int end = chunk.writerIndex();
        int pos = chunk.readerIndex();
        if (strayLf && pos < end) {
            strayLf = false;
            if (chunk.getByte(pos) == LF) {
                afterCr = false;
                pos++;
                if (strayLfRemoved) {
                    run.skipTo(pos);
                }
            }
        }
        int eventStart = pos;
        while (pos < end) {
            int lineEnd = chunk.forEachByte(pos, end - pos, ByteProcessor.FIND_CRLF);
            if (lineEnd < 0) {
                lineEmpty = false;
                afterCr = false;
                break;
            }
            if (lineEnd > pos) {
                lineEmpty = false;
                afterCr = false;
            }
            byte b = chunk.getByte(lineEnd);
            pos = lineEnd + 1;
            if (b == LF && afterCr) {
                afterCr = false;
                continue;
            }
            boolean blankLine = lineEmpty;
            lineEmpty = true;
            afterCr = b == CR;
            if (!blankLine) {
                continue;
            }
            // The length that counts against the limit leaves out an LF completing the final CRLF, which may or may
            // not be in this buffer: the verdict must not depend on where the stream was split.
            int limitEnd = pos;
            if (b == CR) {
                if (pos == end) {
                    strayLf = true;
                } else if (chunk.getByte(pos) == LF) {
                    pos++;
                    afterCr = false;
                }
            }
            boolean removed = completeEvent(run, eventStart, limitEnd, pos);
            strayLfRemoved = removed;
            eventStart = pos;
        }
        holdUnfinished(run, eventStart);
        run.close();
    }

    /**
     * The response body ended: an unfinished event still held goes to {@code out} as it is (its usage, if any, is
     * still read, though clients drop an unterminated event). Later calls do nothing.
     */
    public void finish(List<ByteBuf> out) {
        if (closed) {
            return;
        }
        closed = true;
        if (held != null) {
            classify(held, held.readerIndex(), held.writerIndex());
            out.add(held);
            held = null;
        }
    }

    /** Releases what is held back (the response was aborted). Idempotent. */
    public void discard() {
        closed = true;
        if (held != null) {
            held.release();
            held = null;
        }
    }

    /** The last usage object the stream reported, or null. */
    public Usage usage() {
        return usage;
    }

    /**
     * Data events relayed that are neither {@code [DONE]} nor usage-only (oversized events included): about one
     * token each, which is what an aborted stream is charged.
     */
    public long contentEvents() {
        return contentEvents;
    }

    /**
     * An event ended at {@code end} in the current buffer ({@code limitEnd} for the size check).
     *
     * @return whether it was removed from the stream
     */
    private boolean completeEvent(Run run, int eventStart, int limitEnd, int end) {
        if (oversized) {
            oversized = false;
            return false;
        }
        ByteBuf chunk = run.chunk;
        if (held != null) {
            if (held.readableBytes() + limitEnd - eventStart > maxEventBytes) {
                contentEvents++;
                run.out.add(held);
                held = null;
                return false;
            }
            held.writeBytes(chunk, eventStart, end - eventStart);
            run.skipTo(end);
            ByteBuf event = held;
            held = null;
            if (keep(classify(event, event.readerIndex(), event.writerIndex()))) {
                run.out.add(event);
                return false;
            }
            event.release();
            return true;
        }
        if (limitEnd - eventStart > maxEventBytes) {
            contentEvents++;
            return false;
        }
        if (keep(classify(chunk, eventStart, end))) {
            return false;
        }
        run.flush(eventStart);
        run.skipTo(end);
        return true;
    }

    /** Holds back (or, past the limit, starts relaying) the bytes of the event still unfinished at the buffer's end. */
    private void holdUnfinished(Run run, int eventStart) {
        int end = run.chunk.writerIndex();
        if (oversized || eventStart == end) {
            return;
        }
        int heldBytes = held == null ? 0 : held.readableBytes();
        if (heldBytes + end - eventStart > maxEventBytes) {
            oversized = true;
            contentEvents++;
            if (held != null) {
                // Nothing of this buffer has been relayed yet: the held start of the event goes first.
                run.out.add(held);
                held = null;
            }
            return;
        }
        run.flush(eventStart);
        if (held == null) {
            held = run.chunk.alloc().buffer(Math.max(MIN_HELD_CAPACITY, end - eventStart));
        }
        held.writeBytes(run.chunk, eventStart, end - eventStart);
        run.skipTo(end);
    }

    private boolean keep(Kind kind) {
        if (kind == Kind.CONTENT) {
            contentEvents++;
        }
        return kind != Kind.USAGE_ONLY || !stripUsageOnlyEvents;
    }

    /** What the complete event in {@code [from, to)} of {@code buf} is; records the usage it reports. */
    private Kind classify(ByteBuf buf, int from, int to) {
        int dataLines = 0;
        int dataBytes = 0;
        int firstStart = 0;
        int firstEnd = 0;
        int pos = from;
        while (pos < to) {
            int lineEnd = buf.forEachByte(pos, to - pos, ByteProcessor.FIND_CRLF);
            if (lineEnd < 0) {
                lineEnd = to;
            }
            if (lineEnd == pos) {
                break;
            }
            if (isDataLine(buf, pos, lineEnd)) {
                int value = dataValueStart(buf, pos, lineEnd);
                if (dataLines == 0) {
                    firstStart = value;
                    firstEnd = lineEnd;
                }
                dataLines++;
                dataBytes += lineEnd - value;
            }
            pos = nextLine(buf, lineEnd, to);
        }
        if (dataLines == 0) {
            return Kind.NO_DATA;
        }
        if (dataLines == 1 && regionEquals(buf, firstStart, firstEnd, DONE)) {
            return Kind.DONE;
        }
        if (!mayCarryUsage(buf, from, to)) {
            return Kind.CONTENT;
        }
        return parseData(buf, from, to, dataLines, dataBytes);
    }

    /** Parses the event's data (its data lines joined by LF, as SSE defines it) as one JSON object. */
    private Kind parseData(ByteBuf buf, int from, int to, int dataLines, int dataBytes) {
        byte[] data = new byte[dataBytes + dataLines - 1];
        int at = 0;
        int pos = from;
        while (pos < to && at < data.length) {
            int lineEnd = buf.forEachByte(pos, to - pos, ByteProcessor.FIND_CRLF);
            if (lineEnd < 0) {
                lineEnd = to;
            }
            if (lineEnd == pos) {
                break;
            }
            if (isDataLine(buf, pos, lineEnd)) {
                if (at > 0) {
                    data[at++] = LF;
                }
                int value = dataValueStart(buf, pos, lineEnd);
                buf.getBytes(value, data, at, lineEnd - value);
                at += lineEnd - value;
            }
            pos = nextLine(buf, lineEnd, to);
        }
        TopLevelUsage document = new TopLevelUsage();
        try (JsonParser parser = LlmJson.RESPONSES.createParser(data)) {
            JsonToken token;
            while ((token = parser.nextToken()) != null) {
                if (!document.accept(token, parser)) {
                    return Kind.CONTENT;
                }
            }
        } catch (IOException e) {
            return Kind.CONTENT;
        }
        if (!document.complete()) {
            return Kind.CONTENT;
        }
        if (document.usage() != null) {
            usage = document.usage();
        }
        return document.hasUsageObject() && !document.choicesNonEmpty() ? Kind.USAGE_ONLY : Kind.CONTENT;
    }

    /**
     * Whether a {@code "usage"} member with a value other than {@code null} may be in the event. A quote inside a JSON
     * string is escaped, so the bytes {@code "usage"} are either the key or a string value of exactly that text; a
     * value is followed by a comma or a closing bracket and skipped. Anything unexpected (data split over several
     * lines, say) answers yes and leaves the decision to the parser.
     */
    private boolean mayCarryUsage(ByteBuf buf, int from, int to) {
        int pos = from;
        while (pos < to) {
            usageKey.reset();
            int last = buf.forEachByte(pos, to - pos, usageKey);
            if (last < 0) {
                return false;
            }
            pos = last + 1;
            int next = skipWhitespace(buf, pos, to);
            if (next == to) {
                return true;
            }
            byte b = buf.getByte(next);
            if (b == ':') {
                int value = skipWhitespace(buf, next + 1, to);
                if (!regionEquals(buf, value, Math.min(to, value + NULL.length), NULL)) {
                    return true;
                }
            } else if (b != ',' && b != '}' && b != ']') {
                return true;
            }
        }
        return false;
    }

    private static boolean isDataLine(ByteBuf buf, int lineStart, int lineEnd) {
        int nameEnd = lineStart + DATA.length;
        return nameEnd <= lineEnd && regionEquals(buf, lineStart, nameEnd, DATA)
                && (nameEnd == lineEnd || buf.getByte(nameEnd) == ':');
    }

    /** After {@code data:} and the one space the field may have. */
    private static int dataValueStart(ByteBuf buf, int lineStart, int lineEnd) {
        int value = lineStart + DATA.length;
        if (value < lineEnd && buf.getByte(value) == ':') {
            value++;
        }
        if (value < lineEnd && buf.getByte(value) == ' ') {
            value++;
        }
        return value;
    }

    private static int nextLine(ByteBuf buf, int lineEnd, int to) {
        if (lineEnd >= to) {
            return to;
        }
        int next = lineEnd + 1;
        if (buf.getByte(lineEnd) == CR && next < to && buf.getByte(next) == LF) {
            next++;
        }
        return next;
    }

    private static int skipWhitespace(ByteBuf buf, int pos, int to) {
        while (pos < to) {
            byte b = buf.getByte(pos);
            if (b != ' ' && b != '\t' && b != CR && b != LF) {
                break;
            }
            pos++;
        }
        return pos;
    }

    private static boolean regionEquals(ByteBuf buf, int from, int to, byte[] expected) {
        if (to - from != expected.length) {
            return false;
        }
        for (int i = 0; i < expected.length; i++) {
            if (buf.getByte(from + i) != expected[i]) {
                return false;
            }
        }
        return true;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** Stops on the last byte of {@code "usage"}; one pass through the buffer instead of a look at every quote. */
    private static final class UsageKeyFinder implements ByteProcessor {
        private int matched;

        void reset() {
            matched = 0;
        }

        @Override
        public boolean process(byte value) {
            if (value == USAGE_KEY[matched]) {
                matched++;
                return matched < USAGE_KEY.length;
            }
            // Only a quote can start the key again: none of the letters of usage is one.
            matched = value == '"' ? 1 : 0;
            return true;
        }
    }

    /**
     * The part of one incoming buffer still to relay as it is: {@code [start, current)} grows over kept bytes and is
     * added to {@code out} as one slice (or as the buffer itself when it is all of it) before anything else is added.
     */
    private static final class Run {
        final ByteBuf chunk;
        final List<ByteBuf> out;
        private int start;
        private boolean handedOver;

        Run(ByteBuf chunk, List<ByteBuf> out) {
            this.chunk = chunk;
            this.out = out;
            this.start = chunk.readerIndex();
        }

        /** Relays the kept bytes before {@code to}. */
        void flush(int to) {
            if (to <= start) {
                return;
            }
            if (start == chunk.readerIndex() && to == chunk.writerIndex()) {
                out.add(chunk);
                handedOver = true;
            } else {
                out.add(chunk.retainedSlice(start, to - start));
            }
            start = to;
        }

        /** The bytes before {@code to} are not relayed from this buffer (removed, or copied into the held event). */
        void skipTo(int to) {
            start = to;
        }

        /** Relays the rest and gives up this method's reference unless the buffer itself was handed over. */
        void close() {
            flush(chunk.writerIndex());
            if (!handedOver) {
                chunk.release();
            }
        }
    }
}
