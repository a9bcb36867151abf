/// Whether a generated source the binary carries (the Lua, the dashboard's templates, the
/// contract schemas) is what its files make: runs `scripts/<script> --check`.
public func embeddedCopyIsCurrent(_ script: String) async throws -> Bool {
    let python = try ProjectPaths.tool("python3", package: "python3")
    return try await CommandRunner.run(python, [ProjectPaths.scripts.appendingPathComponent(script).path, "--check"]).succeeded
}
