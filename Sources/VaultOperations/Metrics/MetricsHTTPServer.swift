import Foundation
import NIOCore
import NIOPosix
import NIOHTTP1
import VaultSystem

/// Serves `GET /metrics` in Prometheus' text format on one address (`--metrics-listen`), and
/// nothing else: any other path is 404, any other method 405. Each answer closes its
/// connection; a scraper asks every few seconds at most.
public final class MetricsHTTPServer: Sendable {
    private let channel: any Channel

    /// Where the server listens (the port the kernel chose when asked for port 0).
    public let port: Int

    /// Binds `host:port` and serves `body` for each scrape.
    public static func start(host: String, port: Int, body: @escaping @Sendable () async -> String) async throws -> MetricsHTTPServer {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(MetricsHandler(body: body))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: host, port: port).get()
            return MetricsHTTPServer(channel: channel, port: channel.localAddress?.port ?? port)
        } catch let e as IOError {
            throw OperationError(.io, "cannot listen for metrics on \(host):\(port): \(String(cString: strerror(e.errnoCode)))")
        } catch {
            throw OperationError(.io, "cannot listen for metrics on \(host):\(port): \(error)")
        }
    }

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    public func stop() async {
        try? await channel.close()
    }
}

/// One connection's requests.
private final class MetricsHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let body: @Sendable () async -> String
    private var head: HTTPRequestHead?

    init(body: @escaping @Sendable () async -> String) {
        self.body = body
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
            if request.method != .GET && request.method != .HEAD {
                respond(context: context, status: .methodNotAllowed, text: "only GET\n", version: request.version)
            } else if path != "/metrics" {
                respond(context: context, status: .notFound, text: "vault serves /metrics only\n", version: request.version)
            } else {
                let promise = context.eventLoop.makePromise(of: String.self)
                let body = self.body
                // Collecting asks PostgreSQL over libpq, which blocks: not on the event loop,
                // not on the cooperative pool.
                Task(executorPreference: BlockingExecutor.shared) { promise.succeed(await body()) }
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                promise.futureResult.whenSuccess { text in
                    let (handler, context) = loopBound.value
                    handler.respond(context: context, status: .ok, text: text, version: request.version,
                                    contentType: "text/plain; version=0.0.4; charset=utf-8", includeBody: request.method == .GET)
                }
            }
        }
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, text: String, version: HTTPVersion,
                         contentType: String = "text/plain; charset=utf-8", includeBody: Bool = true) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(text.utf8.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        if includeBody {
            var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
            buffer.writeString(text)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
