extension Dictionary where Key == String, Value == String {
    /// A configuration variable: one set to "" counts as unset (as `VAR= media-worker run` means).
    func setting(_ name: String) -> String? { self[name].flatMap { $0.isEmpty ? nil : $0 } }
}
