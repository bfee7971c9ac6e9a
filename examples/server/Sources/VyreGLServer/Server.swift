import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import VyreGL
import VyreRuntime

/// A small HTTP service on one resident megakernel, shared by every request:
///
/// - `POST /run` takes a batch in `vyre-gl run`'s JSON form, publishes its ops phase by phase into
///   the shared kernel and answers with each op's outcome (see ``BatchResponse``);
/// - `GET /metrics` is the Prometheus text of the kernel's and the program cache's metrics;
/// - SIGTERM (or SIGINT) shuts down gracefully: the HTTP server stops taking connections and
///   answers the requests it took, then the kernel drains (cancelling what is left after
///   `--drain-seconds`), then the process exits 0.
@main
struct VyreGLServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vyre-gl-server", abstract: "Serve batches of ring ops over HTTP from one resident megakernel.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one; the line 'listening on HOST:PORT' says which).") var port = 8080
    @Option(help: "EGL device: an index from 'vyre-gl info' (default: VYRE_GL_DEVICE, else the first hardware device).") var device: String?
    @Option(help: "Slots in the shared ring.") var slots = 4096
    @Option(name: .customLong("control-words"), help: "Words of the shared control buffer.") var controlWords = 65_536
    @Option(name: .customLong("drain-seconds"), help: "How long a graceful shutdown drains before it cancels the ops not yet run.") var drainSeconds = 30

    func run() async throws {
        let logger = Logger(label: "vyre-gl-server")
        let registry = PrometheusCollectorRegistry()
        // The process bootstraps metrics; the library never does.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let context = try GLContext(device: device.map(DeviceSelection.init(parsing:)) ?? .automatic, logger: logger)
        let kernel = try ResidentMegakernel(context: context, options: ResidentOptions(slots: slots, controlWords: controlWords),
                                            metricsDimensions: [("device", context.info.renderer)])
        let app = Application(router: Self.router(kernel, registry: registry),
                              configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "vyre-gl-server"),
                              onServerRunning: { channel in
                                  // The tests (and scripts) read the port from this line: flushed, since
                                  // stdout to a pipe is buffered.
                                  FileHandle.standardOutput.write(Data("listening on \(channel.localAddress?.description ?? "?")\n".utf8))
                              },
                              logger: logger)
        // Services stop in reverse order: the HTTP server first (it answers what it took), then the kernel.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [ResidentMegakernelService(kernel, drainDeadline: .seconds(drainSeconds)), app],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        // Every request is answered and the kernel drained: end here, without the C library's exit
        // handlers. libglvnd's own exit-time teardown can run while a context thread still
        // releases its context (an assertion in GLdispatch aborted 1 exit in about 25 on a loaded
        // 2-core machine); nothing is left to flush but stdout and stderr.
        fflush(nil)
        _exit(0)
    }

    static func router(_ kernel: ResidentMegakernel, registry: PrometheusCollectorRegistry) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/run") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 << 20)
            return await BatchEndpoint.run(Array(body.readableBytesView), on: kernel)
        }
        router.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        return router
    }
}
