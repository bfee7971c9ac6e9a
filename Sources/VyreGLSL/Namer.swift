import VyreIR

/// Decides every GLSL name up front. IR identifiers are letters, digits and single underscores
/// starting with a letter, so a one-letter prefix keeps them clear of GLSL keywords, built-ins
/// (`gl_`) and the writer's own names (`t<N>` temporaries, `vy_` helpers).
struct Namer {
    func variable(_ name: String) -> String { "v_\(name)" }
    func bufferInstance(_ name: String) -> String { "b_\(name)" }
    func bufferBlock(_ name: String) -> String { "B_\(name)" }
    func shared(_ name: String) -> String { "s_\(name)" }
    let statusInstance = "vy_status"
    let trips = "vy_trips"
    let foreverBudget = "vy_forever_budget"
    func length(_ name: String) -> String { "vy_len_\(name)" }
    func parameter(_ name: String) -> String { "vy_param_\(name)" }
}
