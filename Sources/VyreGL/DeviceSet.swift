import Foundation
public import Logging

/// The devices one process spreads its work over (`--devices all|0,1`): one context each, every
/// context on its own thread.
public enum DeviceSet: Sendable, Hashable, CustomStringConvertible {
    /// Every hardware EGL device, or the first software one where there is none.
    case all
    /// These devices, in this order. A device named twice gets two contexts, each with its own
    /// thread and queue (how CI runs two devices on llvmpipe).
    case list([DeviceSelection])

    /// The most devices a list may name: each is a context with its own thread and memory.
    public static let maxDevices = 64

    /// Parses `all` or a comma-separated list of at most ``maxDevices`` device indices and render
    /// node paths.
    public init(parsing text: String) throws(VyreGLError) {
        let trimmed = text.trimmingWhitespace()
        if trimmed.lowercased() == "all" {
            self = .all
            return
        }
        var list: [DeviceSelection] = []
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(part).trimmingWhitespace()
            guard Int(item).map({ $0 >= 0 }) ?? item.hasPrefix("/") else { throw .badDeviceList(value: text) }
            list.append(DeviceSelection(parsing: item))
        }
        guard !list.isEmpty, list.count <= Self.maxDevices else { throw .badDeviceList(value: text) }
        self = .list(list)
    }

    public var description: String {
        switch self {
        case .all: "all"
        case .list(let l): l.map(\.description).joined(separator: ",")
        }
    }

    /// The devices this set names, `.all` resolved against `devices` (``GLContext/availableDevices()``).
    public func selections(among devices: [GLDeviceInfo]) -> [DeviceSelection] {
        switch self {
        case .list(let l): return l
        case .all:
            let hardware = devices.filter { !$0.isSoftware }
            if !hardware.isEmpty { return hardware.map { .index($0.index) } }
            return [devices.first.map { .index($0.index) } ?? .automatic]
        }
    }
}

extension GLContext {
    /// One context per device of `set`, opened in order with the same settings (see
    /// ``init(device:api:limits:debug:programCache:logger:)``); each has its own thread. A device
    /// that cannot be opened fails the whole set: work meant for several devices does not
    /// quietly run on fewer.
    public static func open(_ set: DeviceSet, api: APISelection = .automatic, limits: LimitsProfile? = nil, debug: Bool = false,
                            programCache: ProgramBinaryCache? = .shared, logger: Logger = Logger(label: "vyre-gl")) throws(VyreGLError) -> [GLContext] {
        var contexts: [GLContext] = []
        for selection in set.selections(among: availableDevices()) {
            contexts.append(try GLContext(device: selection, api: api, limits: limits, debug: debug, programCache: programCache, logger: logger))
        }
        return contexts
    }
}
