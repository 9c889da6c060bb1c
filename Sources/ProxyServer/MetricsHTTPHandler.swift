import NIOCore
import NIOHTTP1

/// `GET /metrics` (Prometheus text format 0.0.4) and `GET /health` (200 while accepting, 503 while
/// shutting down). Anything else is 404.
final class MetricsHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let runtime: ProxyRuntime
    private var path: String?
    private var keepAlive = false

    init(runtime: ProxyRuntime) {
        self.runtime = runtime
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.path = head.method == .GET ? String(head.uri.split(separator: "?").first ?? "") : nil
            self.keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            let (status, contentType, body): (HTTPResponseStatus, String, [UInt8])
            switch self.path {
            case "/metrics":
                for service in self.runtime.allServices { service.updateGauges() }
                (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", self.runtime.metrics.emit())
            case "/health":
                let down = self.runtime.isShuttingDown
                (status, contentType, body) = (down ? .serviceUnavailable : .ok, "text/plain",
                                               Array((down ? "shutting down\n" : "ok\n").utf8))
            default:
                (status, contentType, body) = (.notFound, "text/plain", Array("not found\n".utf8))
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: "\(body.count)")
            headers.add(name: "Connection", value: self.keepAlive ? "keep-alive" : "close")
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            let keepAlive = self.keepAlive
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }
}
