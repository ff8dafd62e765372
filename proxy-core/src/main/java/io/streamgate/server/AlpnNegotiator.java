package io.streamgate.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * Once the TLS handshake is done: records a verified client certificate's subject, then installs HTTP/2 or
 * HTTP/1.1 as ALPN chose (HTTP/1.1 when the client offered no ALPN).
 */
final class AlpnNegotiator extends ApplicationProtocolNegotiationHandler {
    private final Gateway gateway;

    AlpnNegotiator(Gateway gateway) {
        super(ApplicationProtocolNames.HTTP_1_1);
        this.gateway = gateway;
    }

    @Override
    protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
        recordClientCertificate(ctx);
        if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
            Http2Pipeline.configure(ctx.pipeline(), gateway, true);
        } else {
            Http1Pipeline.configure(ctx.pipeline(), gateway, true);
        }
    }

    private static void recordClientCertificate(ChannelHandlerContext ctx) {
        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
        if (!ssl.engine().getNeedClientAuth() && !ssl.engine().getWantClientAuth()) {
            // Without mutual TLS there is no certificate to ask for, and asking throws (a stack trace per connection).
            return;
        }
        try {
            Certificate[] chain = ssl.engine().getSession().getPeerCertificates();
            if (chain.length > 0 && chain[0] instanceof X509Certificate) {
                String subject = ((X509Certificate) chain[0]).getSubjectX500Principal().getName();
                ctx.channel().attr(ConnectionInfo.CLIENT_CERT_SUBJECT).set(subject);
            }
        } catch (SSLPeerUnverifiedException noClientCertificate) {
            // Mutual TLS is off or optional and the client sent none.
        }
    }

    /**
     * A connection reset or closed by the client before its handshake finished (port scanners, load-balancer TCP
     * checks, impatient clients) is closed without a word: Netty's handler would log two warnings with stack traces
     * for each, which anyone able to open a TCP connection could use to flood the log. Other failures go to Netty's
     * handling (a TLS alert arrives as {@link #handshakeFailure}).
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
        if (cause instanceof IOException) {
            ctx.close();
            return;
        }
        super.exceptionCaught(ctx, cause);
    }

    @Override
    protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
        // Scanners and clients with old protocols fail here all day; the close is the whole answer.
        ctx.close();
    }
}
