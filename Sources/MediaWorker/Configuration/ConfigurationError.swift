/// A setting that cannot be used; the daemon refuses to start with it.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let variable: String
    public let reason: String

    public var code: String { "CONFIG_INVALID" }
    public var description: String { "\(code): \(variable): \(reason)" }
}
