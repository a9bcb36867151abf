import JobContract

/// `MW_HLS_KEY_URL` and `MW_HLS_KEY_STORE`: for transcodes with `options.encryption`, the key
/// server's URL players are sent to (a template), and where the worker writes each key for that
/// server to hand out. Without a store, keys are returned in `TranscodeCompleted`
/// (`data.encryption.keys[].key_hex`) for the platform's own key service.
public struct HLSKeySettings: Sendable, Equatable {
    /// Placeholders `{key_id}` (required), `{file_id}`, `{version}`; nil: encryption not offered.
    public var urlTemplate: String?
    /// A storage URL prefix (`s3://private-bucket/keys/`, `file:///…`); keys go to
    /// `<store>/<file_id>/<version>/<key_id>.key`, 16 bytes each.
    public var store: String?

    public init(urlTemplate: String? = nil, store: String? = nil) {
        self.urlTemplate = urlTemplate
        self.store = store
    }

    static let placeholders = ["{key_id}", "{file_id}", "{version}"]

    init(environment: [String: String]) throws(ConfigurationError) {
        if let template = environment.setting("MW_HLS_KEY_URL") {
            guard template.contains("{key_id}") else {
                throw ConfigurationError(variable: "MW_HLS_KEY_URL", reason: "needs {key_id} (each key has its own URL), e.g. https://keys.example.com/{file_id}/{key_id}")
            }
            // The URI goes into a quoted EXT-X-KEY attribute: no quote, no line break (RFC 8216 section 4.2).
            guard template.utf8.count <= 1024, !template.contains("\""), !template.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw ConfigurationError(variable: "MW_HLS_KEY_URL", reason: "at most 1024 bytes, no double quote or control character")
            }
            var rest = template
            for placeholder in Self.placeholders { rest = rest.replacingOccurrences(of: placeholder, with: "") }
            if rest.contains("{") || rest.contains("}") {
                throw ConfigurationError(variable: "MW_HLS_KEY_URL", reason: "placeholders are {key_id}, {file_id} and {version}")
            }
            urlTemplate = template
        }
        if let store = environment.setting("MW_HLS_KEY_STORE") {
            guard JobDecoder.isStorageURL(store) else {
                throw ConfigurationError(variable: "MW_HLS_KEY_STORE", reason: "expected s3://bucket/prefix/ or file:///path/")
            }
            self.store = store
        }
    }

    /// The key's URL in the playlists.
    public func keyURL(keyID: String, fileID: String, version: String) -> String? {
        urlTemplate.map {
            $0.replacingOccurrences(of: "{file_id}", with: fileID).replacingOccurrences(of: "{version}", with: version)
                .replacingOccurrences(of: "{key_id}", with: keyID)
        }
    }
}
