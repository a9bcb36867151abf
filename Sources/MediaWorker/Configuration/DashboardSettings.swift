/// The dashboard's own variables (`MW_DASHBOARD_*`), read at start-up like the worker's: a bad
/// value is a configuration error naming its variable. `media-worker dashboard` also reads the
/// worker's configuration (Redis, storage) for the rest.
public struct DashboardSettings: Sendable, Equatable {
    /// `MW_DASHBOARD_TOKEN`: required off loopback, at least 16 characters.
    public var token: String?
    /// `MW_DASHBOARD_SESSION_S` (default 12 h, 60 s to 30 days).
    public var sessionLifetime: Duration
    /// `MW_DASHBOARD_ALLOWED_HOSTS`: host names (no ports) a browser may call the dashboard by.
    public var allowedHosts: [String]
    /// `MW_DASHBOARD_TLS_CERT` and `MW_DASHBOARD_TLS_KEY` (PEM files), together or not at all.
    public var tlsCertificate: String?
    public var tlsKey: String?

    public init(environment: [String: String]) throws(ConfigurationError) {
        token = environment.setting("MW_DASHBOARD_TOKEN")
        if let token, token.count < 16 {
            throw ConfigurationError(variable: "MW_DASHBOARD_TOKEN", reason: "use at least 16 characters")
        }
        sessionLifetime = try WorkerConfiguration.parseSeconds(environment.setting("MW_DASHBOARD_SESSION_S") ?? "43200",
                                                               variable: "MW_DASHBOARD_SESSION_S", range: 60...30 * 86400)
        allowedHosts = try Self.parseHosts(environment["MW_DASHBOARD_ALLOWED_HOSTS"] ?? "")
        tlsCertificate = environment.setting("MW_DASHBOARD_TLS_CERT")
        tlsKey = environment.setting("MW_DASHBOARD_TLS_KEY")
    }

    /// Comma-separated host names (no ports), lowercased.
    static func parseHosts(_ text: String) throws(ConfigurationError) -> [String] {
        let hosts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        for host in hosts where DashboardAuth.hostName(of: host) != host || host.contains(":") {
            throw ConfigurationError(variable: "MW_DASHBOARD_ALLOWED_HOSTS", reason: "'\(host)' is not a host name (no port, no scheme)")
        }
        return hosts
    }
}
