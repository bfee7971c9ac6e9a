import Foundation
import Testing
import VyreGLSL
import VyreIR
import VyreProtocol
import VyreStream

/// The resident megakernel with the SCAN opcode, for a small pattern set, is checked in as
/// glsl/golden/megakernel_scan.comp: regenerated and diffed here (VYRE_UPDATE_GOLDEN=1 rewrites
/// it), validated with glslangValidator by the GLSL tests' golden check.
struct ScanGoldenTests {
    /// GL 4.3's minimums with 16 storage blocks, as llvmpipe and NVIDIA's driver report.
    static let sixteenBlocks = {
        var limits = Limits.gl43
        (limits.maxStorageBuffers, limits.maxBindings) = (16, 16)
        return limits
    }()

    /// The table read from its buffer, and copied into shared memory (as much as GL 4.3's
    /// minimum of 32 KiB per workgroup leaves).
    /// The last case is what a device with GL 4.3's minimum of 8 storage blocks gets: the scan's 2
    /// extra buffers, 6 protocol buffers and the status block are 9, so the protocol buffers are packed.
    @Test(arguments: [("megakernel_scan", 0, false), ("megakernel_scan_shared", ScanKernel.sharedWords(maxSharedBytes: 32768), false),
                      ("megakernel_scan.packed", 0, true)])
    func scanMegakernelMatchesGoldenGLSL(name: String, sharedWords: Int, packed: Bool) throws {
        let dfa = try LiteralDFA(LiteralPatterns([Array("ab".utf8), Array("aba".utf8), Array("needle".utf8)]), maxTableWords: 1 << 20)
        let configuration = ScanKernel(dfa: dfa, dataWords: 4096, resultSlots: 64, sharedWords: sharedWords).configuration(lanes: 64)
        let fitted = try configuration.residentKernel(limits: packed ? .gl43 : Self.sixteenBlocks)
        #expect(fitted.blocks.isPacked == packed)
        let program = fitted.validated.program
        let source = try program.lowerToGLSL(target: .gl43).source
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("glsl/golden/\(name).comp")
        if ProcessInfo.processInfo.environment["VYRE_UPDATE_GOLDEN"] == "1" {
            try source.write(to: file, atomically: true, encoding: .utf8)
        }
        #expect(source == (try String(contentsOf: file, encoding: .utf8)), "rerun with VYRE_UPDATE_GOLDEN=1 if the change is intended")
    }

    /// Sizes and offsets come from the table's header, so every pattern set and geometry gets
    /// the same program, which the driver compiles once (17 s on the H200's) and the binary
    /// cache keeps.
    @Test func everyPatternSetAndGeometryBuildsTheSameProgram() throws {
        let small = try LiteralDFA(LiteralPatterns([Array("ab".utf8)]), maxTableWords: 1 << 20)
        let large = try LiteralDFA(LiteralPatterns((0..<500).map { Array("pattern \($0) with bytes \u{7f}".utf8) }), maxTableWords: 1 << 24)
        let sources = try [(small, 4096, 64), (large, 1 << 22, 4096), (small, 1 << 20, 1)].map { dfa, words, slots in
            try ScanKernel(dfa: dfa, dataWords: words, resultSlots: slots).configuration(lanes: 128).residentProgram(limits: Self.sixteenBlocks).program
                .lowerToGLSL(target: .gl43).source
        }
        #expect(Set(sources).count == 1)
        #expect(ScanKernel(dfa: large, dataWords: 8, resultSlots: 2).tableWords.count == ScanKernel.headerWords + large.tableWords.count)
    }
}
