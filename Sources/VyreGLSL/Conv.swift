import VyreIR

/// One-to-one mappings from IR values to GLSL spellings. No logic beyond table lookups.
enum Conv {
    /// The GLSL scalar type holding values of `type` in variables and shared memory.
    static func scalar(_ type: DataType) -> String {
        switch type {
        case .u32: "uint"
        case .i32: "int"
        case .f32: "float"
        case .bool: "bool"
        case .u64: "uint64_t"
        case .i64: "int64_t"
        case .f64: "double"
        }
    }

    /// The element type of a storage buffer: bool is stored as a uint word (0 or 1).
    static func storage(_ type: DataType) -> String { type == .bool ? "uint" : scalar(type) }

    static func zero(_ type: DataType) -> String {
        switch type {
        case .u32: "0u"
        case .i32: "0"
        case .f32: "0.0"
        case .bool: "false"
        case .u64: "0ul"
        case .i64: "0l"
        case .f64: "0.0lf"
        }
    }

    static func builtin(_ b: Builtin) -> String {
        switch b {
        case .globalInvocationID(let a): "gl_GlobalInvocationID.\(a.name)"
        case .localInvocationID(let a): "gl_LocalInvocationID.\(a.name)"
        case .workgroupID(let a): "gl_WorkGroupID.\(a.name)"
        case .numWorkgroups(let a): "gl_NumWorkGroups.\(a.name)"
        case .localInvocationIndex: "gl_LocalInvocationIndex"
        case .loopCuts: "vy_loop_cuts"
        }
    }

    /// Infix operators whose GLSL meaning already equals the IR's for the given operand type.
    static func infix(_ op: BinaryOp) -> String? {
        switch op {
        case .add: "+"
        case .sub: "-"
        case .mul: "*"
        case .and: "&"
        case .or: "|"
        case .xor: "^"
        case .eq: "=="
        case .ne: "!="
        case .lt: "<"
        case .le: "<="
        case .gt: ">"
        case .ge: ">="
        case .logicalAnd: "&&"
        case .logicalOr: "||"
        case .div, .rem, .shl, .shr, .min, .max: nil
        }
    }

    /// Float functions that GLSL provides with the IR's meaning.
    static func floatFunction(_ op: UnaryOp) -> String? {
        switch op {
        case .sqrt: "sqrt"
        case .floor: "floor"
        case .ceil: "ceil"
        case .trunc: "trunc"
        case .round: "roundEven"
        case .fract: "fract"
        case .exp: "exp"
        case .exp2: "exp2"
        case .log: "log"
        case .log2: "log2"
        case .sin: "sin"
        case .cos: "cos"
        case .abs: "abs"
        default: nil
        }
    }

    static func bitcastFunction(from: DataType, to: DataType) -> String {
        switch (from, to) {
        case (.f32, .u32): "floatBitsToUint"
        case (.f32, .i32): "floatBitsToInt"
        case (.u32, .f32): "uintBitsToFloat"
        case (.i32, .f32): "intBitsToFloat"
        default: scalar(to)
        }
    }

    /// Finite values that are a whole multiple of 2^-16 below 2^24 in magnitude: their shortest
    /// decimal form is exact, so no compiler can round it differently.
    static func isShortDyadic(_ x: Double) -> Bool {
        guard x.isFinite, Swift.abs(x) < 16_777_216 else { return false }
        let scaled = x * 65536
        return scaled == scaled.rounded()
    }

    static func literal(_ v: Value) -> String {
        switch v {
        case .u32(let x): return "\(x)u"
        case .i32(let x):
            if x == .min { return "int(0x80000000u)" }
            return x < 0 ? "(\(x))" : "\(x)"
        case .bool(let x): return x ? "true" : "false"
        case .u64(let x): return "\(x)ul"
        case .i64(let x):
            if x == .min { return "int64_t(0x8000000000000000ul)" }
            return x < 0 ? "(\(x)l)" : "\(x)l"
        case .f32(let x):
            // Decimal text only for short binary fractions, which every compiler parses exactly;
            // anything else (0.1, NaN payloads, infinities) is spelled as its bits.
            if isShortDyadic(Double(x)), !(x == 0 && x.sign == .minus) {
                let text = x.description.contains(".") || x.description.contains("e") ? x.description : x.description + ".0"
                return x < 0 ? "(\(text))" : text
            }
            return "uintBitsToFloat(0x\(String(x.bitPattern, radix: 16))u)"
        case .f64(let x):
            // NVIDIA's compiler rounds some double literals (0.1lf) wrongly: same rule as for floats.
            if isShortDyadic(x), !(x == 0 && x.sign == .minus) {
                let text = (x.description.contains(".") || x.description.contains("e") ? x.description : x.description + ".0") + "lf"
                return x < 0 ? "(\(text))" : text
            }
            let bits = x.bitPattern
            return "packDouble2x32(uvec2(0x\(String(UInt32(truncatingIfNeeded: bits), radix: 16))u, 0x\(String(UInt32(truncatingIfNeeded: bits >> 32), radix: 16))u))"
        }
    }
}
