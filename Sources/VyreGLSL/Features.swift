import VyreIR

/// The pre-pass: every feature a program needs, found before a character of GLSL is written.
enum FeatureScan {
    static func features(of program: Program) -> [(Feature, path: String)] {
        var found: [(Feature, String)] = []
        func note(_ t: DataType, _ path: String) {
            if t == .u64 || t == .i64 { found.append((.int64, path)) }
            if t == .f64 { found.append((.float64, path)) }
        }
        for (i, b) in program.buffers.enumerated() { note(b.elementType, "buffers[\(i)]") }
        for (i, s) in program.shared.enumerated() { note(s.elementType, "shared[\(i)]") }
        func expr(_ e: Expr, _ path: String) {
            switch e {
            case .literal(let v): note(v.type, path)
            case .cast(let t, _): note(t, path)
            case .bitcast(let t, _):
                note(t, path)
                // Double bit casts go through 64-bit integers.
                if t == .f64 || t == .u64 || t == .i64 { found.append((.int64, path)) }
            default: break
            }
            for c in e.children { expr(c, path) }
        }
        func body(_ nodes: [Node], _ path: String) {
            for (i, n) in nodes.enumerated() {
                let p = "\(path)[\(i)]"
                for (label, e) in n.expressions { expr(e, "\(p).\(label)") }
                for (label, b) in n.bodies { body(b, "\(p).\(label)") }
            }
        }
        body(program.entry, "entry")
        return found
    }
}
