import VyreIR

/// The pre-pass: every feature a program needs, found before a character of GLSL is written,
/// from the 64-bit types the analysis lists.
enum FeatureScan {
    static func features(of analysis: ProgramAnalysis) -> [(Feature, path: String)] {
        var found: [(Feature, String)] = []
        for use in analysis.wideTypes {
            found.append((use.type == .f64 ? .float64 : .int64, use.path))
            // Double bit casts go through 64-bit integers.
            if use.isBitcast && use.type == .f64 { found.append((.int64, use.path)) }
        }
        return found
    }
}
