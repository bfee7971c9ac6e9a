import CURing

/// Why an io_uring could not be set up.
public struct IORingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The negative errno liburing returned.
    public let errno: Int32
    /// The liburing call that failed, with its arguments.
    public let call: String

    /// The failed call with its errno's name and a Fix.
    public var description: String {
        let fix = switch -errno {
        case 38: "the kernel has no io_uring (Linux 5.1 or newer, not disabled); the feeder falls back to reads"
        case 1, 13: "io_uring is disabled for this process (sysctl kernel.io_uring_disabled, or a seccomp/container policy); allow it or run outside the sandbox"
        case 12: "raise RLIMIT_MEMLOCK (ulimit -l) or use a smaller ring"
        case 22: "the ring size or flags are not supported by this kernel"
        default: "check the kernel's io_uring support"
        }
        return "\(call) failed: \(String(cString: vyre_errno_name(-errno))). Fix: \(fix)."
    }
}

/// An io_uring instance. The ring's memory belongs to this value; `deinit` tears it down.
final class IORing {
    let ring: OpaquePointer
    /// Submission entries the kernel gave the ring (what was asked for, rounded up to a power of two).
    let entries: UInt32

    init(entries: UInt32) throws(IORingError) {
        var ring: OpaquePointer?
        let result = vyre_uring_open(entries, &ring)
        guard result == 0, let ring else { throw IORingError(errno: result, call: "io_uring_queue_init(\(entries))") }
        self.ring = ring
        self.entries = vyre_uring_entries(ring)
    }

    deinit { vyre_uring_close(ring) }

    /// Whether this process can use io_uring, tried by setting up and tearing down a small ring.
    static func probe() -> Result<UInt32, IORingError> {
        do {
            return .success(try IORing(entries: 8).entries)
        } catch {
            return .failure(error)
        }
    }
}

/// Whether this process can use io_uring: the submission entries of a small test ring, or why not.
public func ioUringProbe() -> Result<UInt32, IORingError> { IORing.probe() }
