public import ServiceLifecycle

/// A resident megakernel as a swift-service-lifecycle `Service`: it runs until the service group
/// shuts down gracefully (SIGTERM, say), then drains: every accepted op runs, and new submits
/// fail with ``ResidentError/shutDown``. A drain still going at `drainDeadline` is cancelled,
/// so the ops not yet run fail with ``NotRunReason/cancelled`` instead of holding up the
/// process's exit. Cancelling the service's task cancels the kernel at once.
///
/// ```swift
/// let kernel = try ResidentMegakernel(context: try GLContext())
/// let group = ServiceGroup(configuration: .init(
///     services: [ResidentMegakernelService(kernel), server],
///     gracefulShutdownSignals: [.sigterm], logger: logger))
/// try await group.run()
/// ```
public struct ResidentMegakernelService: Service {
    public let kernel: ResidentMegakernel
    /// How long a graceful shutdown drains before it cancels what has not run.
    public let drainDeadline: Duration

    public init(_ kernel: ResidentMegakernel, drainDeadline: Duration = .seconds(30)) {
        self.kernel = kernel
        self.drainDeadline = drainDeadline
    }

    public func run() async throws {
        // Returns at graceful shutdown; throws when the task is cancelled instead.
        do { try await gracefulShutdown() } catch {
            await kernel.shutdown(.cancel)
            return
        }
        let kernel = self.kernel, deadline = drainDeadline
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await kernel.shutdown(.drain) }
            group.addTask {
                // Cancelled (and so never cancelling the kernel) once the drain has ended.
                guard (try? await Task.sleep(for: deadline)) != nil else { return }
                await kernel.shutdown(.cancel)
            }
            await group.next()
            group.cancelAll()
        }
    }
}
