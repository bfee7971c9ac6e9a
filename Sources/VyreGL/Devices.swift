import CEGL
import Foundation

/// One EGL device as `vyre-gl info` lists it.
public struct GLDeviceInfo: Sendable, Hashable, Codable {
    /// Index in EGL's device list (what `VYRE_GL_DEVICE=N` selects).
    public var index: Int
    /// Driver or vendor as EGL reports it (e.g. "llvmpipe (Mesa Project)", "NVIDIA").
    public var driver: String
    /// The DRM render node path, where the device exposes one and it exists.
    public var renderNode: String?
    /// A software renderer such as llvmpipe (`EGL_MESA_device_software`).
    public var isSoftware: Bool
    /// The device's EGL extensions, sorted.
    public var extensions: [String]

    /// One line for listings and errors: index, driver, `[software]`, render node.
    public var summary: String {
        "\(index): \(driver)\(isSoftware ? " [software]" : "")\(renderNode.map { " \($0)" } ?? "")"
    }
}

/// How to choose the device a context runs on.
public enum DeviceSelection: Sendable, Hashable, CustomStringConvertible {
    /// `VYRE_GL_DEVICE` if set (an index or a render node path), else the first hardware EGL
    /// device, else the first software one; without EGL device enumeration, each render node
    /// through GBM, then Mesa's surfaceless platform, then the default display.
    case automatic
    /// The device at this index of EGL's device list.
    case index(Int)
    /// The DRM render node at this path (such as `/dev/dri/renderD128`): the EGL device that
    /// reports it, else the node opened through GBM.
    case renderNode(String)

    /// Parses a `VYRE_GL_DEVICE`-style value: a number or a path.
    public init(parsing text: String) {
        if let n = Int(text.trimmingWhitespace()) { self = .index(n) } else { self = .renderNode(text.trimmingWhitespace()) }
    }

    /// The selection as errors quote it.
    public var description: String {
        switch self {
        case .automatic: "automatic"
        case .index(let i): "index \(i)"
        case .renderNode(let p): p
        }
    }

    static var environment: DeviceSelection? {
        guard let v = ProcessInfo.processInfo.environment["VYRE_GL_DEVICE"], !v.isEmpty else { return nil }
        return DeviceSelection(parsing: v)
    }
}

/// What EGL platform a display came from.
public enum DisplayOrigin: String, Sendable, Hashable, Codable {
    case device = "EGL device"
    case gbm = "GBM on a DRM render node"
    case surfaceless = "Mesa surfaceless platform"
    case defaultDisplay = "EGL default display"
}

enum Devices {
    /// Every EGL device, with its driver (initializing each device's display to ask).
    static func enumerate() -> [GLDeviceInfo] {
        EGL.devices().enumerated().map { index, device in
            let extensions = EGL.deviceString(device, EGL_EXTENSIONS).map { $0.split(separator: " ").map(String.init) } ?? []
            var node: String? = nil
            if extensions.contains("EGL_EXT_device_drm_render_node") { node = EGL.deviceString(device, EGL_DRM_RENDER_NODE_FILE_EXT) }
            if node == nil, extensions.contains("EGL_EXT_device_drm") { node = EGL.deviceString(device, EGL_DRM_DEVICE_FILE_EXT) }
            // Some drivers name a node that does not exist inside containers; report only real ones.
            if let n = node, !FileManager.default.fileExists(atPath: n) { node = nil }
            let software = extensions.contains("EGL_MESA_device_software")
            var driver = extensions.contains("EGL_NV_device_cuda") ? "NVIDIA" : "unknown"
            if let display = eglGetPlatformDisplay(EGLenum(EGL_PLATFORM_DEVICE_EXT), device, nil), (try? EGL.initialize(display)) != nil {
                let vendor = EGL.displayString(display, EGL_VENDOR) ?? "unknown vendor"
                if let name = EGL.driverName(display) { driver = "\(name) (\(vendor))" } else { driver = vendor }
            }
            return GLDeviceInfo(index: index, driver: driver, renderNode: node, isSoftware: software, extensions: extensions.sorted())
        }
    }

    /// `attempt` (which makes a context) on the display for `selection`: the first candidate
    /// (`RenderNodes.candidates`) that opens and on which `attempt` succeeds. An explicit choice
    /// that fails throws its own error; among automatic candidates a failure (a node that will not
    /// open, or whose driver has no usable API) moves on to the next, and the first error is thrown
    /// when none works.
    static func open<T>(_ selection: DeviceSelection,
                        attempt: (EGLDisplay, DisplayOrigin, GLDeviceInfo?, String?) throws(VyreGLError) -> T) throws(VyreGLError) -> T {
        let effective = selection == .automatic ? (DeviceSelection.environment ?? .automatic) : selection
        let infos = EGL.devices().isEmpty ? [] : enumerate()
        let surfaceless = EGL.clientExtensions.contains("EGL_MESA_platform_surfaceless")
        let candidates = try RenderNodes.candidates(for: effective, devices: infos, nodes: RenderNodes.paths(), surfaceless: surfaceless)
        var firstError: VyreGLError? = nil
        for candidate in candidates {
            do throws(VyreGLError) {
                let (display, origin, device, node) = try open(candidate, infos: infos)
                return try attempt(display, origin, device, node)
            } catch {
                guard case .automatic = effective else { throw error }
                if firstError == nil { firstError = error }
            }
        }
        throw firstError ?? .noEGL(detail: "no EGL devices, no render node, no surfaceless platform, and the default display did not initialize (\(EGL.lastError))")
    }

    private static func open(_ candidate: RenderNodes.Candidate, infos: [GLDeviceInfo]) throws(VyreGLError) -> (EGLDisplay, DisplayOrigin, GLDeviceInfo?, String?) {
        switch candidate {
        case .device(let i):
            guard let display = eglGetPlatformDisplay(EGLenum(EGL_PLATFORM_DEVICE_EXT), EGL.devices()[i], nil) else {
                throw .eglFailure(call: "eglGetPlatformDisplay(EGL_PLATFORM_DEVICE_EXT)", code: EGL.lastError)
            }
            _ = try EGL.initialize(display)
            return (display, .device, infos[i], infos[i].renderNode)
        case .gbm(let path):
            return (try RenderNodes.display(path), .gbm, nil, path)
        case .surfaceless:
            guard let display = eglGetPlatformDisplay(EGLenum(EGL_PLATFORM_SURFACELESS_MESA), nil, nil) else {
                throw .eglFailure(call: "eglGetPlatformDisplay(EGL_PLATFORM_SURFACELESS_MESA)", code: EGL.lastError)
            }
            _ = try EGL.initialize(display)
            return (display, .surfaceless, nil, nil)
        case .defaultDisplay:
            guard let display = eglGetDisplay(nil) else { throw .eglFailure(call: "eglGetDisplay(EGL_DEFAULT_DISPLAY)", code: EGL.lastError) }
            _ = try EGL.initialize(display)
            return (display, .defaultDisplay, nil, nil)
        }
    }
}
