import CURing

/// Why an io_uring could not be set up.
/// Written as `call failed: reason. Fix: fix.`, the shape of every vyre-gl diagnostic. It is not a
/// `DiagnosticError`: importing VyreIR (and with it Foundation) beside liburing's headers makes the
/// two modules' `fd_set` clash, so this module stays on the Swift standard library.
public struct IORingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The negative errno liburing returned.
    public let errno: Int32
    /// The liburing call that failed, with its arguments.
    public let call: String

    /// The failed call with its errno's name and a Fix.
    public var description: String {
        // Linux errno values (this module avoids Glibc, whose fd_set clashes with liburing's).
        let (reason, fix): (String, String)
        switch -errno {
        case 38: (reason, fix) = ("ENOSYS", "the kernel has no io_uring (Linux 5.1 or newer, not disabled); the feeder falls back to reads")
        case 1, 13: (reason, fix) = (-errno == 1 ? "EPERM" : "EACCES", "io_uring is disabled for this process (sysctl kernel.io_uring_disabled, or a seccomp/container policy); allow it or run outside the sandbox")
        case 12: (reason, fix) = ("ENOMEM", "raise RLIMIT_MEMLOCK (ulimit -l) or use a smaller ring")
        case 22: (reason, fix) = ("EINVAL", "the ring size or flags are not supported by this kernel")
        default: (reason, fix) = ("errno \(-errno)", "check the kernel's io_uring support")
        }
        return "\(call) failed: \(reason). Fix: \(fix)."
    }
}

/// An io_uring instance. The ring's memory belongs to this value; `deinit` tears it down.
public struct IORing: ~Copyable {
    /// liburing keeps pointers into the struct, so it lives at a fixed heap address.
    private let ring: UnsafeMutablePointer<io_uring>
    /// Submission entries the kernel gave the ring (what was asked for, rounded up to a power of two).
    public let entries: UInt32

    /// Sets up a ring with room for `entries` submissions (rounded up by the kernel).
    public init(entries: UInt32 = 64) throws(IORingError) {
        let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        ring.initialize(to: io_uring())
        let result = io_uring_queue_init(entries, ring, 0)
        if result < 0 {
            ring.deallocate()
            throw IORingError(errno: result, call: "io_uring_queue_init(\(entries))")
        }
        self.ring = ring
        self.entries = ring.pointee.sq.ring_entries
    }

    deinit {
        io_uring_queue_exit(ring)
        ring.deallocate()
    }

    /// Whether this process can use io_uring, tried by setting up and tearing down a small ring.
    public static func probe() -> Result<UInt32, IORingError> {
        do {
            let ring = try IORing(entries: 8)
            return .success(ring.entries)
        } catch {
            return .failure(error)
        }
    }
}
