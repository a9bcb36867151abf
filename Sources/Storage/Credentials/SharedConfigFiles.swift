import Foundation

/// `~/.aws/credentials` and `~/.aws/config` (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`):
/// one profile's settings, the credentials file winning over the config file for the same key,
/// as the AWS CLI reads them.
struct SharedConfigFiles: Sendable {
    var credentials: [String: [String: String]] = [:]
    var config: [String: [String: String]] = [:]

    init(credentialsFile: String, configFile: String) {
        credentials = Self.parse(path: credentialsFile, configStyle: false)
        config = Self.parse(path: configFile, configStyle: true)
    }

    /// The profile's settings; nil when neither file has it.
    func profile(_ name: String) -> [String: String]? {
        guard credentials[name] != nil || config[name] != nil else { return nil }
        return (config[name] ?? [:]).merging(credentials[name] ?? [:]) { $1 }
    }

    /// INI as the AWS files write it: `[name]` (`[profile name]` in the config file, but
    /// `[default]`), `key = value`, `#` and `;` comments; keys lowercased.
    static func parse(path: String, configStyle: Bool) -> [String: [String: String]] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else { return [:] }
        var sections: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                var name = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if configStyle, name.hasPrefix("profile ") { name = String(name.dropFirst("profile ".count)).trimmingCharacters(in: .whitespaces) }
                // Other config sections (sso-session, services) are not profiles.
                if configStyle, name.contains(" ") { current = nil; continue }
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current]?[key] = value
        }
        return sections
    }
}

/// `credential_process`: a program printing `{"Version": 1, "AccessKeyId": …, "SecretAccessKey": …,
/// "SessionToken": …, "Expiration": …}`, run again when its credentials near their expiry.
enum CredentialProcess {
    static func provider(command: String, profile: String) -> RefreshingCredentials {
        let source = "credential_process of profile \(profile)"
        return RefreshingCredentials(source: source) { () throws(StorageError) -> TemporaryCredentials in
            try await BlockingIO.run { () throws(StorageError) -> TemporaryCredentials in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = ["-c", command]
                let output = Pipe()
                process.standardOutput = output
                process.standardError = FileHandle.nullDevice
                do { try process.run() } catch { throw StorageError.credentials(source, "cannot run it (\(error))") }
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                guard process.terminationStatus == 0 else {
                    throw StorageError.credentials(source, "it exited with status \(process.terminationStatus)")
                }
                if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let version = object["Version"] as? Int, version != 1 {
                    throw StorageError.credentials(source, "it printed Version \(version); only 1 is known")
                }
                return try JSONCredentials.parse(data, source: source)
            }
        }
    }
}
