import Dispatch
import Synchronization

/// Runs async work from a thread that may block: the CLI's synchronous commands and
/// `MegakernelGroup`'s per-device threads drive the async resident API through it.
package enum Blocking {
    /// Runs `body` on the cooperative pool and blocks the calling thread until it ends. Never
    /// call it from the cooperative pool itself: the blocked thread could be the one `body` needs.
    package static func wait<T: Sendable, E: Error>(_ body: @escaping @Sendable () async throws(E) -> T) throws(E) -> T {
        let box = Mutex<Result<T, E>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<T, E>
            do throws(E) { result = .success(try await body()) } catch { result = .failure(error) }
            box.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try box.withLock { $0! }.get()
    }
}
