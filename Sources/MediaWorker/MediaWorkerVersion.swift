public enum MediaWorkerVersion {
    public static let current = "0.1.0"
}
