public import VyreGL

/// The GL context that test suites in one process share: a context is costly to make, and each
/// brings its own driver threads (llvmpipe starts one per core).
public enum SharedDevice {
    /// Made on first use; a process without a device stops here with the reason.
    public static let context: GLContext = {
        do { return try GLContext() } catch { fatalError("no GL context for tests: \(error)") }
    }()

    /// An OpenGL ES 3.1 context on the same device, for the suites that run on both APIs.
    public static let esContext: GLContext = {
        do { return try GLContext(api: .gles) } catch { fatalError("no OpenGL ES context for tests: \(error)") }
    }()
}
