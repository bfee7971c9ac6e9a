import Foundation
import VyreGLSL

/// The client API a context speaks: desktop OpenGL 4.3 core, or OpenGL ES 3.1 (what most ARM
/// boards with Mesa and many embedded GPUs offer).
public enum GraphicsAPI: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// OpenGL 4.3 core profile or newer.
    case gl
    /// OpenGL ES 3.1 or newer.
    case gles

    /// The API as people name it, with the least version vyre-gl needs.
    public var description: String {
        switch self {
        case .gl: "OpenGL 4.3 core"
        case .gles: "OpenGL ES 3.1"
        }
    }
}

/// Which API to open a context for.
public enum APISelection: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// `VYRE_GL_API` when set; else OpenGL 4.3 core where the device offers it, and OpenGL ES 3.1
    /// where it does not.
    case automatic = "auto"
    /// OpenGL 4.3 core only.
    case gl
    /// OpenGL ES 3.1 only.
    case gles

    /// Parses `gl`, `gles` or `auto` (as `--api` and `VYRE_GL_API` take them); nil for anything else.
    public init?(parsing text: String) {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "auto", "automatic": self = .automatic
        case "gl", "opengl": self = .gl
        case "gles", "es", "opengles": self = .gles
        default: return nil
        }
    }

    public var description: String { rawValue }

    /// The choice `VYRE_GL_API` makes, when set.
    static func environment() throws(VyreGLError) -> APISelection? {
        guard let v = ProcessInfo.processInfo.environment["VYRE_GL_API"], !v.isEmpty else { return nil }
        guard let selection = APISelection(parsing: v) else { throw .badAPISelection(value: v) }
        return selection
    }
}

/// Why a context speaks the API it does, as `vyre-gl info` shows it.
public enum APIChoice: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The caller asked for this API (`--api`, or a `GLContext` made with one).
    case requested
    /// `VYRE_GL_API` asked for it.
    case environment
    /// Automatic choice: OpenGL 4.3 core, which is preferred, was offered.
    case preferred
    /// Automatic choice: no OpenGL 4.3 core context could be made (`reason`), so OpenGL ES.
    case fallback(reason: String)

    public var description: String {
        switch self {
        case .requested: "asked for (--api)"
        case .environment: "asked for by VYRE_GL_API"
        case .preferred: "auto: OpenGL 4.3 core is preferred and the device offers it"
        case .fallback(let reason): "auto: no OpenGL 4.3 core context (\(reason)), so OpenGL ES"
        }
    }
}

extension ShadingLanguage {
    /// The shading language of a context for `api` whose GL version is `version` (major * 10 + minor).
    static func of(_ api: GraphicsAPI, version: Int) -> ShadingLanguage {
        switch api {
        case .gl: .glsl430
        case .gles: version >= 32 ? .essl320 : .essl310
        }
    }
}
