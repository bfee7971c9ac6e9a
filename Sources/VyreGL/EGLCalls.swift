import CEGL

/// Thin wrappers over EGL: extension entry points loaded once, strings decoded, errors typed.
/// No policy here; `Devices` and `GLContext` decide what to call.
enum EGL {
    struct Extensions {
        let queryDevices: PFNEGLQUERYDEVICESEXTPROC?
        let queryDeviceString: PFNEGLQUERYDEVICESTRINGEXTPROC?
        let getDisplayDriverName: PFNEGLGETDISPLAYDRIVERNAMEPROC?
    }

    /// Extension functions are not exported by libEGL (glvnd); they come from eglGetProcAddress.
    static let extensions: Extensions = {
        func load<T>(_ name: String, _: T.Type) -> T? {
            guard let p = eglGetProcAddress(name) else { return nil }
            return unsafeBitCast(p, to: T.self)
        }
        return Extensions(
            queryDevices: load("eglQueryDevicesEXT", PFNEGLQUERYDEVICESEXTPROC.self),
            queryDeviceString: load("eglQueryDeviceStringEXT", PFNEGLQUERYDEVICESTRINGEXTPROC.self),
            getDisplayDriverName: load("eglGetDisplayDriverName", PFNEGLGETDISPLAYDRIVERNAMEPROC.self))
    }()

    static var lastError: EGLErrorCode { EGLErrorCode(eglGetError()) }

    static func words(_ s: UnsafePointer<CChar>?) -> Set<String> {
        guard let s else { return [] }
        return Set(String(cString: s).split(separator: " ").map(String.init))
    }

    static var clientExtensions: Set<String> { words(eglQueryString(vyre_egl_no_display(), EGL_EXTENSIONS)) }

    static func displayString(_ display: EGLDisplay, _ name: Int32) -> String? {
        eglQueryString(display, name).map { String(cString: $0) }
    }

    static func devices() -> [EGLDeviceEXT] {
        guard let query = extensions.queryDevices else { return [] }
        var count: EGLint = 0
        guard query(0, nil, &count) == EGL_TRUE, count > 0 else { return [] }
        var list = [EGLDeviceEXT?](repeating: nil, count: Int(count))
        guard query(count, &list, &count) == EGL_TRUE else { return [] }
        return list.prefix(Int(count)).compactMap { $0 }
    }

    static func deviceString(_ device: EGLDeviceEXT, _ name: Int32) -> String? {
        guard let query = extensions.queryDeviceString, let s = query(device, name) else { return nil }
        return String(cString: s)
    }

    static func initialize(_ display: EGLDisplay) throws(VyreGLError) -> (major: Int32, minor: Int32) {
        var major: EGLint = 0
        var minor: EGLint = 0
        guard eglInitialize(display, &major, &minor) == EGL_TRUE else { throw .eglFailure(call: "eglInitialize", code: lastError) }
        return (major, minor)
    }

    static func driverName(_ display: EGLDisplay) -> String? {
        guard let f = extensions.getDisplayDriverName, let s = f(display) else { return nil }
        return String(cString: s)
    }
}
