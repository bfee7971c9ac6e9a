import VyreGL
import VyreIR
import VyreProtocol

/// The one adapter from the GL layer's errors to the megakernel's.
func onDevice<T: ~Copyable>(_ body: () throws(VyreGLError) -> T) throws(MegakernelError) -> T {
    do { return try body() } catch { throw .device(error) }
}

/// Where a batch's control words and debug log live while it runs, and how they come back.
enum StateResidency {
    /// In mapped memory: no upload and no copy; the kernel reaches them across the bus, and the
    /// host reads them in place after the fence.
    case mapped
    /// In device memory, copied into the results mapping after the dispatches.
    case copied
    /// In device memory; the debug log is copied, and the control buffer (too large to read
    /// through a mapping, which may be write-combined) comes back by the driver's read.
    case controlRead

    /// Control buffers larger than this come back by the driver's read.
    static let largeControlWords = 16_384

    init(itemCount: Int, controlWords: Int, mappedStateLimit: Int) {
        // 0 disables mapped state, for an empty batch too (a packed megakernel has no mapped state).
        if mappedStateLimit > 0 && itemCount <= mappedStateLimit {
            self = .mapped
        } else {
            self = controlWords > Self.largeControlWords ? .controlRead : .copied
        }
    }
}

/// The buffers one batch binds, by binding, and where its extra buffers went in its arena.
struct BoundBatch {
    var handles: [UInt32: BufferHandle]
    var extraIndex: [String: Int]
}

extension Megakernel {
    /// Writes the item records into the mapped items (idle: the previous batch's fence has
    /// signalled, so plain stores from several threads), and clears the exception count and, for
    /// mapped state, the debug log while copying the control words in.
    func encode(_ batch: Batch, _ plan: BatchPlan, into buffers: ResidentBuffers, _ places: BatchPlaces, residency: StateResidency) {
        batch.items.withUnsafeBufferPointer { source in
            places.items.withUnsafeWordsWhileIdle { words in
                ItemRecords.encode(source, into: words, stride: plan.recordWords, header: plan.layout.headerWords, maxArgs: plan.maxArgs)
            }
        }
        places.exceptions.store(0, at: 0)
        for (decl, contents) in plan.extra {
            guard case .mapped(let view) = places.joined[decl.name] else { continue }
            let words = contents.materialized
            view.withUnsafeWordsWhileIdle { $0.baseAddress!.update(from: words, count: words.count) }
        }
        guard residency == .mapped else { return }
        plan.control.withUnsafeBufferPointer { source in
            buffers.mappedControl!.value.withUnsafeWordsWhileIdle { $0.baseAddress!.update(from: source.baseAddress!, count: source.count) }
        }
        buffers.mappedDebug!.value.store(0, at: 0)
    }

    /// The protocol buffers at their bindings, and the extra buffers uploaded into `arena` at theirs.
    func bind(_ plan: BatchPlan, _ places: BatchPlaces, arena: inout BufferArena) throws(VyreGLError) -> BoundBatch {
        var bound = BoundBatch(handles: places.bindings, extraIndex: [:])
        for (decl, contents) in plan.extra where places.joined[decl.name] == nil {
            try context.checkBindable(decl.name, words: contents.wordCount)
            let index = try arena.add(contents, mapped: false)
            bound.extraIndex[decl.name] = index
            bound.handles[blocks.extraBindings[decl.name] ?? decl.binding] = arena.handle(index)
        }
        return bound
    }

    /// One dispatch per phase, then the copies `residency` asks for; waits for the fence.
    /// Returns the number of dispatches.
    func submit(_ plan: BatchPlan, _ bound: BoundBatch, _ buffers: ResidentBuffers, _ places: BatchPlaces, residency: StateResidency) throws(VyreGLError) -> Int {
        let lanes = Int(configuration.workgroupSize)
        let steps = plan.phases.map { phase in
            var parameters: [String: UInt32] = ["first": UInt32(phase.lowerBound), "count": UInt32(phase.count), "stride": UInt32(plan.recordWords),
                                                "layout": plan.layout.rawValue, "opcode": plan.shared.opcode, "tenant": plan.shared.tenant,
                                                "priority": plan.shared.priority]
            parameters.merge(places.parameters) { a, _ in a }
            return DispatchStep(groups: WorkgroupSize(UInt32((phase.count + lanes - 1) / lanes)), parameters: parameters)
        }
        let handles = bound.handles
        var options = DispatchOptions()
        options.readOnlyBytes = places.readOnlyBytes
        // Extra buffers packed into the device block start with the batch's words.
        var uploads: [BufferUpload] = []
        for (decl, contents) in plan.extra {
            guard case .device(let words) = places.joined[decl.name] else { continue }
            uploads.append(BufferUpload(places.controlBuffer.value.handle, atWord: words.lowerBound, contents.materialized))
        }
        guard residency != .mapped else {
            _ = try context.submit(pipeline, steps: steps, buffers: handles, uploads: uploads, options: options)
            return steps.count
        }
        let results = buffers.results!.value.handle
        var copies = [BufferCopy(from: places.debug.buffer, word: places.debug.word, to: results, atWord: plan.controlWords, words: plan.debugWords)]
        if residency == .copied {
            copies.append(BufferCopy(from: places.control.buffer, word: places.control.word, to: results, words: plan.controlWords))
        }
        _ = try context.submit(pipeline, steps: steps, buffers: handles,
                               uploads: uploads + [BufferUpload(places.control.buffer, atWord: places.control.word, plan.control),
                                                   BufferUpload(places.debug.buffer, atWord: places.debug.word, [0])],
                               copies: copies, options: options)
        return steps.count
    }

    /// The control words and the debug log's words after the batch's fence.
    func readState(_ plan: BatchPlan, _ buffers: ResidentBuffers, _ places: BatchPlaces, residency: StateResidency) throws(VyreGLError) -> (control: [UInt32], debug: [UInt32]) {
        let (c, d) = (plan.controlWords, plan.debugWords)
        switch residency {
        case .mapped:
            return (buffers.mappedControl!.value.copyWhileIdle(words: 0..<c), buffers.mappedDebug!.value.copyWhileIdle(words: 0..<d))
        case .copied:
            let results = buffers.results!
            return (results.value.copyWhileIdle(words: 0..<c), results.value.copyWhileIdle(words: c..<(c + d)))
        case .controlRead:
            let first = places.controlWord
            return (try places.controlBuffer.value.read(words: first..<(first + c)), buffers.results!.value.copyWhileIdle(words: c..<(c + d)))
        }
    }

    /// Everything the batch left, decoded: control, debug log, exception records, completed ops
    /// and the extra buffers. `timing` is filled in by the caller.
    func decode(_ batch: Batch, _ plan: BatchPlan, _ bound: BoundBatch, _ buffers: ResidentBuffers, _ places: BatchPlaces,
                arena: borrowing BufferArena, residency: StateResidency, phases: Int) throws(MegakernelError) -> BatchResult {
        let state = try onDevice { () throws(VyreGLError) in try readState(plan, buffers, places, residency: residency) }
        let debug: DebugLog
        do throws(ProtocolError) { debug = try RingReader.debugLog(state.debug) } catch { throw .invalidBatch(error) }
        let exceptions = places.exceptions
        let kept = min(Int(exceptions.load(0)), ExceptionRecords.capacity(words: plan.exceptionWords))
        let first = ExceptionRecords.headerWords
        let records = ExceptionRecords.decode(records: exceptions.read(words: first..<(first + kept * ExceptionRecords.recordWords)))
        var extraOut: [String: [UInt32]] = [:]
        for (decl, contents) in plan.extra {
            extraOut[decl.name] = try onDevice { () throws(VyreGLError) in
                switch places.joined[decl.name] {
                case .device(let words)?: try places.controlBuffer.value.read(words: words)
                case .mapped(let view)?: view.copyWhileIdle(words: 0..<view.wordCount)
                case nil: try arena.read(bound.extraIndex[decl.name]!, words: contents.wordCount)
                }
            }
        }
        return BatchResult(itemCount: batch.items.count, slots: plan.slots, phases: phases, control: state.control, debug: debug,
                           faults: records.faults, pending: records.pending, unexpected: records.unexpected, buffers: extraOut,
                           completed: ItemRecords.countCompleted(batch.items, excluding: records.notDone),
                           timing: BatchTiming(encode: .zero, gpu: .zero, decode: .zero))
    }
}
