import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VyreGL
import VyreProtocol
import VyreRuntime

/// Cold against warm start of the megakernel: compiled by the driver with its own shader cache
/// out of the way, against a new context loading the program binary vyre-gl cached.
struct CompileBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Megakernel start-up, cold (the driver compiles) against warm (a new context loads vyre-gl's cached binary).",
        discussion: """
            Each round makes an empty program binary cache in a temporary directory, opens a context and \
            builds the one-shot megakernel (cold), then opens a new context on the same cache and builds it \
            again (warm); each also runs a one-op batch, since some drivers (llvmpipe) finish compiling only \
            at the first dispatch. The resident megakernel's program is built the same way. With \
            --driver-cache off (the default) the drivers' own caches are disabled for the process \
            (MESA_SHADER_CACHE_DISABLE=true, __GL_SHADER_DISK_CACHE=0), so cold is cold every round; Mesa then \
            offers no binary format, and warm compiles too. With --driver-cache fresh each driver's cache goes \
            to a new empty directory instead: cold figures then come from the first round only (the later \
            rounds find what it left there), and warm shows what a restarted process pays on such a driver.
            """)

    enum DriverCache: String, ExpressibleByArgument, CaseIterable { case off, fresh }

    @Option(help: "Rounds; medians are reported.") var rounds: Int = 3
    @Option(name: .customLong("driver-cache"), help: "The drivers' own shader caches: off or fresh.") var driverCache: DriverCache = .off
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    struct Report: Encodable {
        var benchmark = "compile"
        var device: String
        var glVersion: String
        var driverCache: String
        var binaryFormats: Int
        var rounds: Int
        /// The one-shot megakernel's compile and link by the driver, median.
        var coldMilliseconds: Double
        /// The same on a new context: the cached binary's load where the driver offers binaries.
        var warmMilliseconds: Double
        var warmLoadedFromCache: Bool
        var warmPercentOfCold: Double
        /// The whole start: the megakernel built (its IR, lowering and program) and a one-op
        /// batch's first run.
        var coldFirstBatchMilliseconds: Double
        var warmFirstBatchMilliseconds: Double
        var residentColdMilliseconds: Double
        var residentWarmMilliseconds: Double
        var contextMilliseconds: Double
    }

    func validate() throws {
        if !(1...50).contains(rounds) { throw ValidationError("--rounds must be 1 to 50.") }
    }

    func run() throws {
        runReporting {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vyre-gl-bench-compile-\(getpid())")
            defer { try? FileManager.default.removeItem(at: scratch) }
            // Read by the drivers when the first display opens, so set before any context.
            switch driverCache {
            case .off:
                setenv("MESA_SHADER_CACHE_DISABLE", "true", 1)
                setenv("__GL_SHADER_DISK_CACHE", "0", 1)
            case .fresh:
                setenv("MESA_SHADER_CACHE_DIR", scratch.appendingPathComponent("mesa").path, 1)
                setenv("__GL_SHADER_DISK_CACHE_PATH", scratch.appendingPathComponent("nvidia").path, 1)
                try? FileManager.default.createDirectory(at: scratch.appendingPathComponent("nvidia"), withIntermediateDirectories: true)
            }
            var samples: [Sample] = []
            var progress = Progress()
            for round in 0..<rounds {
                progress.update("round \(round + 1) of \(rounds)")
                samples.append(try measureRound(cacheAt: scratch.appendingPathComponent("vyre-\(round)").path))
            }
            progress.finish()
            try print(report(samples))
        }
    }

    struct Sample {
        var device = "", glVersion = "", formats = 0
        var context = 0.0, cold = 0.0, warm = 0.0, coldFirst = 0.0, warmFirst = 0.0, residentCold = 0.0, residentWarm = 0.0
        var loaded = false
    }

    /// One cold and one warm start, each on a new context sharing a new cache directory.
    private func measureRound(cacheAt path: String) throws -> Sample {
        var s = Sample()
        let clock = ContinuousClock()
        for warm in [false, true] {
            let cache = ProgramBinaryCache(path: path)
            let opened = clock.now
            let context = try GLContext(device: deviceOptions.selection, api: deviceOptions.api, programCache: cache)
            let contextTime = (clock.now - opened) / .milliseconds(1)
            let started = clock.now
            let megakernel = try Megakernel(context: context)
            let built = megakernel.compileTime / .milliseconds(1)
            _ = try megakernel.run(Batch(items: [WorkItem(.nop)], controlWords: 1024))
            let first = (clock.now - started) / .milliseconds(1)
            let resident = try context.makePipeline(try MegakernelConfiguration().residentProgram(limits: context.limits))
            let residentTime = resident.compileTime / .milliseconds(1)
            s.device = context.info.renderer
            s.glVersion = context.info.glVersion
            s.formats = context.info.programBinaryFormats
            if warm {
                (s.warm, s.warmFirst, s.residentWarm, s.loaded) = (built, first, residentTime, megakernel.pipelineFromCache && resident.fromCache)
            } else {
                (s.context, s.cold, s.coldFirst, s.residentCold) = (contextTime, built, first, residentTime)
            }
        }
        return s
    }

    private func report(_ samples: [Sample]) -> Report {
        func median(_ key: KeyPath<Sample, Double>) -> Double {
            let sorted = samples.map { $0[keyPath: key] }.sorted()
            return sorted[sorted.count / 2]
        }
        // With the drivers' caches in one fresh directory, only the first round's cold start is
        // cold: the later ones find what the first left there.
        func coldMedian(_ key: KeyPath<Sample, Double>) -> Double { driverCache == .fresh ? samples[0][keyPath: key] : median(key) }
        let last = samples[samples.count - 1]
        let cold = coldMedian(\.cold), warm = median(\.warm)
        return Report(device: last.device, glVersion: last.glVersion, driverCache: driverCache.rawValue, binaryFormats: last.formats, rounds: samples.count,
                      coldMilliseconds: cold, warmMilliseconds: warm, warmLoadedFromCache: samples.allSatisfy(\.loaded),
                      warmPercentOfCold: cold > 0 ? warm / cold * 100 : 0,
                      coldFirstBatchMilliseconds: coldMedian(\.coldFirst), warmFirstBatchMilliseconds: median(\.warmFirst),
                      residentColdMilliseconds: coldMedian(\.residentCold), residentWarmMilliseconds: median(\.residentWarm),
                      contextMilliseconds: median(\.context))
    }

    private func print(_ r: Report) throws {
        if json { return try Output.json(r) }
        try Output.line("megakernel start-up on \(r.device) (\(r.glVersion)), driver caches \(r.driverCache), \(r.binaryFormats) binary format(s), median of \(r.rounds)")
        try Output.line(String(format: "one-shot program:   cold %8.2f ms   warm %8.2f ms   (%.1f %% of cold%@)", r.coldMilliseconds, r.warmMilliseconds,
                               r.warmPercentOfCold, r.warmLoadedFromCache ? "" : "; warm compiled too: no binary loaded" as NSString))
        try Output.line(String(format: "start + first run:  cold %8.2f ms   warm %8.2f ms", r.coldFirstBatchMilliseconds, r.warmFirstBatchMilliseconds))
        try Output.line(String(format: "resident program:   cold %8.2f ms   warm %8.2f ms", r.residentColdMilliseconds, r.residentWarmMilliseconds))
        try Output.line(String(format: "context creation:   %8.2f ms", r.contextMilliseconds))
    }
}
