import Foundation
@testable import MediaWorker
import Testing

@Suite("Webhook signing and settings")
struct WebhookSignerTests {
    @Test("signatures match the Standard Webhooks reference vector")
    func referenceVector() throws {
        // From the standard-webhooks specification's libraries (checked with PyPI standardwebhooks).
        let signer = try WebhookSigner(secrets: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let headers = Dictionary(uniqueKeysWithValues: signer.headers(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, body: Array(#"{"test": 2432232314}"#.utf8)))
        #expect(headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(headers["webhook-id"] == "msg_p5jXN8AQM9LWM0D4loKWxJek" && headers["webhook-timestamp"] == "1614265330")
    }

    @Test("several secrets sign with each (rotation); a secret not in the standard form is refused")
    func rotationAndBadSecrets() throws {
        let signer = try WebhookSigner(secrets: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw  whsec_" + Data(repeating: 7, count: 32).base64EncodedString())
        let signature = Dictionary(uniqueKeysWithValues: signer.headers(id: "m", timestamp: 1, body: [])) ["webhook-signature"] ?? ""
        #expect(signature.split(separator: " ").count == 2 && signature.split(separator: " ").allSatisfy { $0.hasPrefix("v1,") })
        #expect(throws: WebhookSigner.SecretError.self) { try WebhookSigner(secrets: "plain-secret") }
        #expect(throws: WebhookSigner.SecretError.self) { try WebhookSigner(secrets: "whsec_c2hvcnQ=") }
    }

    @Test("settings: URLs checked, a secret required, terminal events by default, * for all")
    func settings() throws {
        #expect(try WebhookSettings(environment: [:]) == nil)
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let settings = try #require(try WebhookSettings(environment: ["MW_WEBHOOK_URLS": "http://a.example/h, https://b.example/h", "MW_WEBHOOK_SECRET": secret]))
        #expect(settings.urls == ["http://a.example/h", "https://b.example/h"])
        #expect(settings.delivers("TranscodeCompleted") && settings.delivers("JobFailed") && !settings.delivers("JobProgress"))
        let all = try #require(try WebhookSettings(environment: ["MW_WEBHOOK_URLS": "http://a.example/h", "MW_WEBHOOK_SECRET": secret, "MW_WEBHOOK_EVENTS": "*"]))
        #expect(all.delivers("JobProgress"))
        #expect(throws: ConfigurationError.self) { try WebhookSettings(environment: ["MW_WEBHOOK_URLS": "ftp://a.example/h", "MW_WEBHOOK_SECRET": secret]) }
        #expect(throws: ConfigurationError.self) { try WebhookSettings(environment: ["MW_WEBHOOK_URLS": "http://a.example/h"]) }
    }

    @Test("retry delays grow exponentially with jitter, are capped, and a longer Retry-After wins")
    func retryDelays() throws {
        var settings = WebhookSettings(urls: [], signer: try WebhookSigner(secrets: ""))
        settings.retryBase = .seconds(5)
        settings.retryCap = .seconds(3600)
        for attempts in 1...12 {
            let full = min(Duration.seconds(5) * (1 << (attempts - 1)), .seconds(3600))
            let delay = settings.retryDelay(afterAttempts: attempts, retryAfter: nil)
            #expect(delay >= full * 0.5 && delay <= full)
        }
        #expect(settings.retryDelay(afterAttempts: 1, retryAfter: .seconds(120)) == .seconds(120))
        #expect(EndpointDelivery.parseRetryAfter("30") == .seconds(30))
        let inAMinute = Date().addingTimeInterval(60)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let parsed = try #require(EndpointDelivery.parseRetryAfter(formatter.string(from: inAMinute)))
        #expect(parsed > .seconds(55) && parsed <= .seconds(60))
        #expect(EndpointDelivery.parseRetryAfter("soon") == nil)
    }
}
