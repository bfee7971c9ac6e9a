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
    /// `VYRE_GL_DEVICE` if set (an index or a render node path), else the first hardware device,
    /// else the first software device, else Mesa's surfaceless platform.
    case automatic
    /// The device at this index of EGL's device list.
    case index(Int)
    /// The device whose DRM render node is this path (such as `/dev/dri/renderD128`).
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

    /// The display for `selection`, initialized, and what it is.
    static func open(_ selection: DeviceSelection) throws(VyreGLError) -> (EGLDisplay, DisplayOrigin, GLDeviceInfo?) {
        let effective = selection == .automatic ? (DeviceSelection.environment ?? .automatic) : selection
        let devices = EGL.devices()
        if !devices.isEmpty {
            let infos = enumerate()
            let chosen: Int
            switch effective {
            case .automatic:
                chosen = infos.first(where: { !$0.isSoftware })?.index ?? 0
            case .index(let i):
                guard infos.indices.contains(i) else { throw .deviceNotFound(selection: "\(effective)", available: infos.map(\.summary)) }
                chosen = i
            case .renderNode(let path):
                guard let match = infos.first(where: { $0.renderNode == path }) else {
                    throw .deviceNotFound(selection: path, available: infos.map(\.summary))
                }
                chosen = match.index
            }
            guard let display = eglGetPlatformDisplay(EGLenum(EGL_PLATFORM_DEVICE_EXT), devices[chosen], nil) else {
                throw .eglFailure(call: "eglGetPlatformDisplay(EGL_PLATFORM_DEVICE_EXT)", code: EGL.lastError)
            }
            _ = try EGL.initialize(display)
            return (display, .device, infos[chosen])
        }
        if case .automatic = effective {} else {
            throw .deviceNotFound(selection: "\(effective)", available: [])
        }
        // No device enumeration: Mesa's surfaceless platform, then the default display.
        if EGL.clientExtensions.contains("EGL_MESA_platform_surfaceless"),
           let display = eglGetPlatformDisplay(EGLenum(EGL_PLATFORM_SURFACELESS_MESA), nil, nil),
           (try? EGL.initialize(display)) != nil {
            return (display, .surfaceless, nil)
        }
        if let display = eglGetDisplay(nil), (try? EGL.initialize(display)) != nil {
            return (display, .defaultDisplay, nil)
        }
        throw .noEGL(detail: "no EGL devices, no surfaceless platform, and the default display did not initialize (\(EGL.lastError))")
    }
}
