package io.streamgate.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One request the test backend received, and the handle a {@link TestBackend.Responder} answers it with.
 * The reply methods block the calling (worker) thread until Netty wrote the data to the socket, so a
 * responder that writes in a loop never has more than one piece of data queued: the backend's own memory
 * stays small, and a proxy that stops reading makes the responder wait.
 */
public final class BackendExchange {
    private static final long WRITE_TIMEOUT_SECONDS = 30;
    private static final int KEPT_BODY_BYTES = 64 * 1024;

    private final String method;
    private final String uri;
    private final HttpHeaders headers;
    private final boolean keepAlive;
    private final BackendConnection connection;
    private final Runnable onResponseEnd;
    private final MessageDigest digest;
    private final ByteArrayOutputStream keptBody = new ByteArrayOutputStream();
    private final CompletableFuture<ReceivedBody> body = new CompletableFuture<>();
    private long bodyLength;

    BackendExchange(String method, String uri, HttpHeaders headers, boolean keepAlive,
                    BackendConnection connection, Runnable onResponseEnd) {
        this.method = method;
        this.uri = uri;
        this.headers = headers;
        this.keepAlive = keepAlive;
        this.connection = connection;
        this.onResponseEnd = onResponseEnd;
        try {
            this.digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public String method() {
        return method;
    }

    /** The request target as received, path and query. */
    public String uri() {
        return uri;
    }

    public HttpHeaders headers() {
        return headers;
    }

    public BackendConnection connection() {
        return connection;
    }

    /** Completes when the whole request body arrived. */
    public CompletableFuture<ReceivedBody> body() {
        return body;
    }

    /** Waits (bounded) for the whole request body. */
    public ReceivedBody awaitBody(long timeoutSeconds) throws InterruptedException, ExecutionException, TimeoutException {
        return body.get(timeoutSeconds, TimeUnit.SECONDS);
    }

    /** A complete response with Content-Length. {@code headerPairs}: name, value, name, value... */
    public void respond(int status, String contentType, String text, String... headerPairs) throws IOException, InterruptedException {
        respond(status, contentType, text.getBytes(StandardCharsets.UTF_8), headerPairs);
    }

    /** A complete response with Content-Length and these exact body bytes (a compressed body, say). */
    public void respond(int status, String contentType, byte[] bytes, String... headerPairs) throws IOException, InterruptedException {
        DefaultFullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(status), Unpooled.wrappedBuffer(bytes));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType).setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        addHeaders(response, headerPairs);
        send(response);
        responseEnded();
    }

    /** Sends a response head with Transfer-Encoding: chunked; follow with {@link #write} and {@link #end}. */
    public void startChunked(int status, String contentType, String... headerPairs) throws IOException, InterruptedException {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status));
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType)
                .set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        addHeaders(head, headerPairs);
        send(head);
    }

    /** Sends a response head with a Content-Length; follow with {@link #write} and {@link #end}. */
    public void startFixed(int status, String contentType, long contentLength) throws IOException, InterruptedException {
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status));
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType).set(HttpHeaderNames.CONTENT_LENGTH, contentLength);
        send(head);
    }

    public void write(String text) throws IOException, InterruptedException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        write(bytes, 0, bytes.length);
    }

    /** Writes a copy of {@code data[offset, offset+length)} as one piece of body and waits until it was written. */
    public void write(byte[] data, int offset, int length) throws IOException, InterruptedException {
        byte[] copy = new byte[length];
        System.arraycopy(data, offset, copy, 0, length);
        send(new DefaultHttpContent(Unpooled.wrappedBuffer(copy)));
    }

    /** Ends the response body (the terminating chunk for a chunked response). */
    public void end() throws IOException, InterruptedException {
        send(LastHttpContent.EMPTY_LAST_CONTENT);
        responseEnded();
    }

    /** Closes the connection with a FIN, as a crashing backend process would. */
    public void die() {
        connection.channel().close().awaitUninterruptibly(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    /** Closes the connection with a RST. */
    public void reset() {
        Channel channel = connection.channel();
        channel.config().setOption(ChannelOption.SO_LINGER, 0);
        channel.close().awaitUninterruptibly(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    private void responseEnded() {
        if (!keepAlive) {
            connection.channel().close();
        } else {
            onResponseEnd.run();
        }
    }

    private void send(Object message) throws IOException, InterruptedException {
        ChannelFuture written = connection.channel().writeAndFlush(message);
        if (!written.await(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            throw new IOException("write not completed within " + WRITE_TIMEOUT_SECONDS + "s on " + connection);
        }
        if (!written.isSuccess()) {
            throw new IOException("write failed on " + connection, written.cause());
        }
    }

    private static void addHeaders(HttpResponse response, String... headerPairs) {
        for (int i = 0; i + 1 < headerPairs.length; i += 2) {
            response.headers().add(headerPairs[i], headerPairs[i + 1]);
        }
    }

    // Called on the connection's event loop as the body arrives.

    void bodyPart(ByteBuf content) {
        bodyLength += content.readableBytes();
        digest.update(content.nioBuffer());
        int keep = Math.min(content.readableBytes(), KEPT_BODY_BYTES - keptBody.size());
        if (keep > 0) {
            byte[] part = new byte[keep];
            content.getBytes(content.readerIndex(), part);
            keptBody.writeBytes(part);
        }
    }

    void bodyEnded() {
        body.complete(new ReceivedBody(bodyLength, HexFormat.of().formatHex(digest.digest()), keptBody.toByteArray()));
    }

    void connectionLost() {
        body.completeExceptionally(new IOException("connection closed before the request body ended"));
    }
}
