import CEGL
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A DRM render node (`/dev/dri/renderD*`) as `vyre-gl info` lists it.
public struct RenderNodeInfo: Sendable, Hashable, Codable {
    /// The node's path.
    public var path: String
    /// The kernel driver behind it (from sysfs: `amdgpu`, `i915`, `panfrost`, `v3d`...), when known.
    public var driver: String?
    /// This process may open it for reading and writing (membership of the `render` group, usually).
    public var accessible: Bool
    /// The EGL device that reports this node, when one does (then the device platform is used;
    /// otherwise GBM).
    public var eglDevice: Int?

    /// One line for listings: path, driver, access, EGL device.
    public var summary: String {
        var parts = [path]
        if let driver { parts.append("(\(driver))") }
        parts.append(accessible ? "read-write" : "no access")
        parts.append(eglDevice.map { "EGL device \($0)" } ?? "GBM")
        return parts.joined(separator: " ")
    }
}

/// DRM render nodes, and EGL displays on them through GBM: the classic headless path of Mesa's
/// hardware drivers where EGL device enumeration is missing (older Mesa, ARM boards).
enum RenderNodes {
    static let directory = "/dev/dri"
    /// The character device major number of every DRM device (Linux's `DRM_MAJOR`).
    static let drmMajor: UInt64 = 226

    /// The render nodes in `directory`, in number order.
    static func paths(in directory: String = directory) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("renderD") }
            .sorted { (Int($0.dropFirst(7)) ?? .max, $0) < (Int($1.dropFirst(7)) ?? .max, $1) }
            .map { "\(directory)/\($0)" }
    }

    /// Every render node with its driver, access and EGL device.
    static func list(eglDevices: [GLDeviceInfo]) -> [RenderNodeInfo] {
        paths().map { path in
            RenderNodeInfo(path: path, driver: driver(of: path), accessible: access(path, R_OK | W_OK) == 0,
                           eglDevice: eglDevices.first { $0.renderNode == path }?.index)
        }
    }

    /// The kernel driver of a node, from `/sys/class/drm/<node>/device/driver`.
    static func driver(of path: String) -> String? {
        let name = (path as NSString).lastPathComponent
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/sys/class/drm/\(name)/device/driver") else { return nil }
        return (target as NSString).lastPathComponent
    }

    /// A display to try, in order.
    enum Candidate: Equatable {
        case device(Int)
        case gbm(String)
        case surfaceless
        case defaultDisplay
    }

    /// Where to look for a display for `selection`: an EGL device where enumeration offers one
    /// (the automatic choice prefers hardware), a render node through GBM when asked for one no
    /// EGL device reports, or, without enumeration, every render node through GBM, then Mesa's
    /// surfaceless platform, then the default display.
    static func candidates(for selection: DeviceSelection, devices: [GLDeviceInfo], nodes: [String],
                           surfaceless: Bool) throws(VyreGLError) -> [Candidate] {
        switch selection {
        case .index(let i):
            guard devices.indices.contains(i) else { throw .deviceNotFound(selection: "\(selection)", available: devices.map(\.summary)) }
            return [.device(i)]
        case .renderNode(let path):
            if let match = devices.first(where: { $0.renderNode == path }) { return [.device(match.index)] }
            return [.gbm(path)]
        case .automatic:
            if !devices.isEmpty { return [.device(devices.first(where: { !$0.isSoftware })?.index ?? 0)] }
            return nodes.map { .gbm($0) } + (surfaceless ? [.surfaceless] : []) + [.defaultDisplay]
        }
    }

    /// libgbm's entry points, loaded once; nil where libgbm is not installed.
    struct Library: @unchecked Sendable {
        let create: vyre_gbm_create_device_fn
        let destroy: vyre_gbm_device_destroy_fn
    }

    /// libgbm, or why it could not be loaded (dlerror's message is read once, here: it is gone
    /// after the first read).
    static let loaded: Result<Library, GBMLoadFailure> = {
        func failure(_ what: String) -> Result<Library, GBMLoadFailure> {
            .failure(GBMLoadFailure(message: "\(what) (\(dlerror().map { String(cString: $0) } ?? "no detail"))"))
        }
        guard let handle = dlopen("libgbm.so.1", RTLD_NOW | RTLD_LOCAL) ?? dlopen("libgbm.so", RTLD_NOW | RTLD_LOCAL) else {
            return failure("libgbm.so.1 could not be loaded")
        }
        guard let create = dlsym(handle, "gbm_create_device"), let destroy = dlsym(handle, "gbm_device_destroy") else {
            return failure("libgbm lacks gbm_create_device or gbm_device_destroy")
        }
        return .success(Library(create: unsafeBitCast(create, to: vyre_gbm_create_device_fn.self),
                                destroy: unsafeBitCast(destroy, to: vyre_gbm_device_destroy_fn.self)))
    }()

    struct GBMLoadFailure: Error { let message: String }

    static var library: Library? { try? loaded.get() }

    /// Displays opened on nodes, kept for the process's life: a display stays initialized for
    /// other contexts (see `GLState.destroy`), and its GBM device and file must outlive it.
    private static let opened = Mutex<[String: OpenedNode]>([:])

    struct OpenedNode: @unchecked Sendable {
        let fd: Int32
        let device: OpaquePointer
        let display: EGLDisplay
    }

    /// The initialized EGL display of the render node at `path`, through GBM.
    static func display(_ path: String) throws(VyreGLError) -> EGLDisplay {
        if let node = opened.withLock({ $0[path] }) { return node.display }
        let node = try open(path)
        return opened.withLock { table in
            if let earlier = table[path] {
                close(node)
                return earlier.display
            }
            table[path] = node
            return node.display
        }
    }

    private static func close(_ node: OpenedNode) {
        eglTerminate(node.display)
        library?.destroy(node.device)
        Glibc.close(node.fd)
    }

    private static func open(_ path: String) throws(VyreGLError) -> OpenedNode {
        var info = stat()
        guard stat(path, &info) == 0 else { throw openError(path: path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFCHR else { throw .renderNodeInvalid(path: path, problem: "is not a character device") }
        // Mesa's GBM accepts any file and falls back to software rendering (it did on /dev/null),
        // so the device number is checked: DRM devices have major number 226.
        let major = ((info.st_rdev >> 8) & 0xfff) | ((info.st_rdev >> 32) & ~0xfff)
        guard major == drmMajor else {
            throw .renderNodeInvalid(path: path, problem: "is not a DRM device (character device major \(major), DRM's is \(drmMajor))")
        }
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw openError(path: path, errno: errno) }
        let library: Library
        switch loaded {
        case .success(let l): library = l
        case .failure(let f):
            Glibc.close(fd)
            throw .gbmUnavailable(detail: f.message)
        }
        guard let device = library.create(fd) else {
            Glibc.close(fd)
            throw .renderNodeInvalid(path: path, problem: "is not a DRM device GBM can drive (gbm_create_device failed)")
        }
        let clientExtensions = EGL.clientExtensions
        guard clientExtensions.contains("EGL_KHR_platform_gbm") || clientExtensions.contains("EGL_MESA_platform_gbm") else {
            library.destroy(device)
            Glibc.close(fd)
            throw .gbmUnavailable(detail: "EGL offers no GBM platform (EGL_KHR_platform_gbm)")
        }
        guard let display = eglGetPlatformDisplay(EGLenum(EGL_PLATFORM_GBM_KHR), UnsafeMutableRawPointer(device), nil) else {
            library.destroy(device)
            Glibc.close(fd)
            throw .eglFailure(call: "eglGetPlatformDisplay(EGL_PLATFORM_GBM_KHR, \(path))", code: EGL.lastError)
        }
        do throws(VyreGLError) { _ = try EGL.initialize(display) } catch {
            library.destroy(device)
            Glibc.close(fd)
            throw error
        }
        return OpenedNode(fd: fd, device: device, display: display)
    }

    /// The error for a node that cannot be opened, by errno.
    static func openError(path: String, errno code: Int32) -> VyreGLError {
        switch code {
        case ENOENT, ENOTDIR:
            .renderNodeMissing(path: path, available: paths())
        case EACCES, EPERM:
            .renderNodeDenied(path: path)
        default:
            .renderNodeInvalid(path: path, problem: "cannot be opened (\(String(cString: strerror(code))))")
        }
    }
}
