import ArgumentParser
import Foundation

extension WorkerConfiguration {
    /// The configuration every command runs with, from the environment (and a command's own
    /// overrides): a bad variable is one line, `error CONFIG_INVALID: <variable>: <reason>`, and
    /// exit status 2, whichever command read it.
    static func forCommand(overriding overrides: [String: String] = [:]) throws -> WorkerConfiguration {
        do {
            return try WorkerConfiguration(environment: ProcessInfo.processInfo.environment.merging(overrides) { $1 })
        } catch {
            printError("error \(error)")
            throw ExitCode(2)
        }
    }
}
