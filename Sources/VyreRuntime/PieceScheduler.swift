import Foundation
import VyreProtocol

/// Hands a phase's pieces (``BatchSplit``) to the devices of a group.
///
/// Guided self-scheduling: each piece is a share of the stream still left (half of it over the
/// live devices), never fewer than `minimumItems`, so every device starts with a large piece,
/// one that finishes early takes the next share, and the last pieces are small enough that no
/// device waits long on another. Spread-out groups go first, as pieces of their own. vyre's
/// scheduler cut the work into a fixed 4 units per device and handed out unit numbers from one
/// counter; here a piece's results count only once merged, so a piece whose device fails goes
/// back to the others, and the devices left finish the phase.
final class PieceScheduler: @unchecked Sendable {
    /// What a device gets when it asks for work.
    enum Turn {
        case piece([Int])
        /// Nothing to hand out now, but a piece in flight may come back.
        case wait
        case done
    }

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private let phase: BatchSplit.Phase
    private var cursor = 0
    private var spread: [[Int]]
    private var returned: [[Int]] = []
    private var inFlight = 0
    private var live: Int
    private let minimumItems: Int
    private(set) var failure: MegakernelError?
    /// Per device: items and pieces run here.
    private var items: [Int]
    private var pieces: [Int]

    init(phase: BatchSplit.Phase, devices: Int, live: Int, minimumItems: Int) {
        self.phase = phase
        self.live = live
        self.minimumItems = max(1, minimumItems)
        spread = phase.spread
        items = [Int](repeating: 0, count: devices)
        pieces = [Int](repeating: 0, count: devices)
    }

    /// The next piece for a device, waiting while pieces in flight may still come back.
    func take() -> [Int]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            switch turn() {
            case .piece(let p):
                inFlight += 1
                return p
            case .done: return nil
            case .wait: condition.wait()
            }
        }
    }

    private func turn() -> Turn {
        if failure != nil { return .done }
        if let p = returned.popLast() { return .piece(p) }
        if let p = spread.popLast() { return .piece(p) }
        if cursor < phase.streamCount {
            let left = phase.streamCount - cursor
            let (p, next) = phase.piece(from: cursor, count: max(minimumItems, left / (2 * max(1, live))))
            cursor = next
            return .piece(p)
        }
        return inFlight > 0 ? .wait : .done
    }

    /// `device` ran `piece` (its results are in the device's part of the phase).
    func completed(_ piece: [Int], on device: Int) {
        condition.lock()
        defer { condition.unlock() }
        items[device] += piece.count
        pieces[device] += 1
        inFlight -= 1
        condition.broadcast()
    }

    /// `device` failed running `piece`: the piece goes back to the others (its results never
    /// counted); false when no device is left, and the phase fails with `error`.
    func lost(_ piece: [Int], _ error: MegakernelError) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        inFlight -= 1
        live -= 1
        returned.append(piece)
        if live == 0 { failure = error }
        condition.broadcast()
        return live > 0
    }

    /// The run fails with `error` (bad input found on a device): nothing more is handed out.
    func fail(_ error: MegakernelError) {
        condition.lock()
        defer { condition.unlock() }
        inFlight -= 1
        if failure == nil { failure = error }
        condition.broadcast()
    }

    /// Items and pieces each device ran, once every device has stopped asking.
    var shares: (items: [Int], pieces: [Int]) {
        condition.lock()
        defer { condition.unlock() }
        return (items, pieces)
    }
}
