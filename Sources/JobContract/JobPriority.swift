public enum JobPriority: String, Sendable, Codable, CaseIterable {
    case high, normal, low
}
