/// The schemas of `contracts/` (embedded, see `EmbeddedSchemas`), loaded once.
public enum ContractSchemas {
    public static let baseID = "https://mediaworker.dev/contracts/"
    public static let jobID = baseID + "job.schema.json"
    public static let eventID = baseID + "event.schema.json"

    public static func optionsID(_ type: JobType) -> String { baseID + "options/\(type.rawValue).schema.json" }

    /// Every contract schema. The embedded text is fixed at build time and a test loads it,
    /// so a failure here is a broken build, not bad input.
    public static let registry: JSONSchemaRegistry = {
        do {
            return try JSONSchemaRegistry(documents: EmbeddedSchemas.documents.map(\.text))
        } catch {
            fatalError("the embedded contract schemas do not load: \(error)")
        }
    }()
}
