import Crypto
import Foundation
import Jobs
import Sandbox
import SchedctlBase
import SchedctlTesting
import Scheduler
import Testing

@Suite("Webhook, Twilio and file notifiers")
struct NotifierTests {
    let message = NotificationMessage(subject: "run failed", text: "Job: x\n\nexit 1\n", html: "<p>exit 1</p>", short: "x failed: exit 1")

    @Test func webhookSignsTheBodyWithHMACSHA256() async throws {
        let receiver = WebhookReceiver()
        try await receiver.start()
        let wall = ManualWallClock("2026-12-01T15:00:00Z")
        let notifier = WebhookNotifier(name: "hook", url: receiver.url, secret: "s3cret-key", sleep: SleepRecorder().sleep, wall: wall.source)
        var withID = message
        withID.deliveryID = "d-1"
        try await notifier.send(withID)
        await receiver.stop()
        let request = try #require(receiver.received.first)
        let timestamp = Int64(wall.now().timeIntervalSince1970)
        let expected = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).".utf8) + request.body, using: SymmetricKey(data: Data("s3cret-key".utf8)))
        #expect(request.signature == "t=\(timestamp),v1=" + expected.map { String(format: "%02x", $0) }.joined())
        #expect(verifySignature(try #require(request.signature), body: request.body, key: "s3cret-key", now: timestamp + 299))
        #expect(!verifySignature(try #require(request.signature), body: request.body, key: "s3cret-key", now: timestamp + 301), "too old")
        #expect(!verifySignature(try #require(request.signature), body: request.body + Data(" ".utf8), key: "s3cret-key", now: timestamp))
        #expect(request.delivery == "d-1")
        #expect(request.contentType == "application/json")
        let json = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
        #expect(json["subject"] as? String == "run failed")
        #expect(json["text"] as? String == message.text)
        #expect(json["html"] as? String == "<p>exit 1</p>")
        #expect(json["short"] as? String == "x failed: exit 1")
        #expect(json["notifier"] as? String == "hook")
        #expect(!String(decoding: request.body, as: UTF8.self).contains("s3cret-key"))
    }

    @Test func webhookWithoutASecretSendsNoSignature() async throws {
        let receiver = WebhookReceiver()
        try await receiver.start()
        try await WebhookNotifier(name: "hook", url: receiver.url, sleep: SleepRecorder().sleep).send(message)
        await receiver.stop()
        #expect(receiver.received.count == 1)
        #expect(receiver.received.first?.signature == nil)
    }

    @Test func webhookRetriesServerErrorsWithBackoff() async throws {
        let receiver = WebhookReceiver()
        try await receiver.start()
        receiver.respond(503, 500, 429)
        let sleeps = SleepRecorder()
        try await WebhookNotifier(name: "hook", url: receiver.url, secret: "k", sleep: sleeps.sleep).send(message)
        await receiver.stop()
        #expect(receiver.received.count == 4)
        #expect(sleeps.recorded == [.seconds(1), .seconds(2), .seconds(4)])
        #expect(Set(receiver.received.map(\.body)).count == 1, "every attempt carries the same body")
    }

    @Test func webhookGivesUpOnAClientErrorAndAfterItsAttempts() async throws {
        let receiver = WebhookReceiver()
        try await receiver.start()
        receiver.respond(404)
        let sleeps = SleepRecorder()
        let notifier = WebhookNotifier(name: "hook", url: receiver.url, attempts: 3, sleep: sleeps.sleep)
        let rejected = await #expect(throws: NotifyError.self) { try await notifier.send(message) }
        #expect(rejected?.kind == .rejected)
        #expect(receiver.received.count == 1)
        receiver.respond(500, 500, 500)
        let exhausted = await #expect(throws: NotifyError.self) { try await notifier.send(message) }
        #expect(exhausted?.kind == .transport)
        #expect(exhausted?.message.contains("failed 3 times") == true)
        #expect(receiver.received.count == 4)
        await receiver.stop()
    }

    @Test func twilioSimulatorReceivesOneSMSPerRecipientWithinOneSegment() async throws {
        let twilio = TwilioSimulator()
        try await twilio.start()
        twilio.addAccount(sid: "AC123", authToken: "tok-123")
        let notifier = TwilioNotifier(
            name: "phone", accountSID: "AC123", authToken: "tok-123", from: "+15550001111", to: ["+15550002222", "+15550003333"], baseURL: twilio.baseURL)
        let long = NotificationMessage(subject: "s", text: "t", short: String(repeating: "risk limit hit on ES; ", count: 20))
        try await notifier.send(long)
        await twilio.stop()
        #expect(twilio.messages.map(\.to) == ["+15550002222", "+15550003333"])
        let body = try #require(twilio.messages.first?.body)
        #expect(body.count == 160)
        #expect(body.hasSuffix("..."))
        #expect(SMSText.segments(body) == 1)
        #expect(twilio.messages.allSatisfy { $0.from == "+15550001111" && $0.account == "AC123" })
    }

    @Test func twilioReportsBadCredentialsAndBadNumbers() async throws {
        let twilio = TwilioSimulator()
        try await twilio.start()
        twilio.addAccount(sid: "AC123", authToken: "tok-123")
        let wrong = TwilioNotifier(name: "phone", accountSID: "AC123", authToken: "nope", from: "+15550001111", to: ["+15550002222"], baseURL: twilio.baseURL)
        let auth = await #expect(throws: NotifyError.self) { try await wrong.send(message) }
        #expect(auth?.kind == .authentication)
        let badNumber = TwilioNotifier(
            name: "phone", accountSID: "AC123", authToken: "tok-123", from: "+15550001111", to: ["555-CALL-ME"], baseURL: twilio.baseURL)
        let rejected = await #expect(throws: NotifyError.self) { try await badNumber.send(message) }
        #expect(rejected?.kind == .recipientRejected)
        #expect(rejected?.message.contains("21211") == true)
        twilio.enqueueFaults(.status(500))
        let ok = TwilioNotifier(name: "phone", accountSID: "AC123", authToken: "tok-123", from: "+15550001111", to: ["+15550002222"], baseURL: twilio.baseURL)
        await #expect(throws: NotifyError.self) { try await ok.send(message) }
        await twilio.stop()
        #expect(twilio.messages.isEmpty)
    }

    @Test func smsSegmentsFollowGSM7AndUCS2Limits() {
        #expect(SMSText.segments(String(repeating: "a", count: 160)) == 1)
        #expect(SMSText.segments(String(repeating: "a", count: 161)) == 2)
        #expect(SMSText.segments(String(repeating: "€", count: 80)) == 1, "an extension character counts double")
        #expect(SMSText.segments(String(repeating: "€", count: 81)) == 2)
        #expect(SMSText.segments(String(repeating: "✓", count: 70)) == 1)
        #expect(SMSText.segments(String(repeating: "✓", count: 71)) == 2)
        let fitted = SMSText.fit(String(repeating: "✓", count: 200), maxSegments: 2)
        #expect(SMSText.segments(fitted) == 2)
        #expect(fitted.utf16.count == 134)
    }

    @Test func fileNotifierAppendsMarkdown() async throws {
        let directory = TemporaryDirectory()
        let wall = ManualWallClock("2026-12-01T21:15:00Z")
        let notifier = FileNotifier(name: "log", path: directory.file("alerts.md"), wall: wall.source)
        try await notifier.send(message)
        wall.advance(60)
        try await notifier.send(NotificationMessage(subject: "second", text: "more"))
        let text = try String(contentsOfFile: directory.file("alerts.md"), encoding: .utf8)
        #expect(text == "## run failed\n\n_2026-12-01T21:15:00Z_\n\nJob: x\n\nexit 1\n\n## second\n\n_2026-12-01T21:16:00Z_\n\nmore\n\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.file("alerts.md"))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func fileNotifierDoesNotFollowASymlink() async throws {
        let directory = TemporaryDirectory()
        try "keep me\n".write(toFile: directory.file("victim.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: directory.file("alerts.md"), withDestinationPath: directory.file("victim.txt"))
        let notifier = FileNotifier(name: "log", path: directory.file("alerts.md"))
        await #expect(throws: NotifyError.self) { try await notifier.send(message) }
        #expect(try String(contentsOfFile: directory.file("victim.txt"), encoding: .utf8) == "keep me\n")
    }

    @Test func everyNotifierTypeRedactsSecretValues() async throws {
        let secrets = DictionarySecrets(["hook/key": "hmac-key-value", "twilio/sid": "AC999", "twilio/token": "tok-999", "api": "sk-live-TOPSECRET"])
        _ = try await secrets.resolve("api")
        let leaky = NotificationMessage(
            subject: "token sk-live-TOPSECRET leaked", text: "body sk-live-TOPSECRET", html: "<p>sk-live-TOPSECRET</p>", short: "sms sk-live-TOPSECRET")
        let directory = TemporaryDirectory()
        let smtp = try SMTPListener()
        defer { smtp.stop() }
        let receiver = WebhookReceiver()
        try await receiver.start()
        let twilio = TwilioSimulator()
        try await twilio.start()
        twilio.addAccount(sid: "AC999", authToken: "tok-999")
        let plan = Plan(
            source: directory.file("jobs.yaml"), timezone: .utc, database: directory.file("db.sqlite"), secrets: SecretsSettings(), brokers: [:],
            strategies: [:],
            notifiers: [
                "inbox": ComponentSpec(
                    name: "inbox", type: "email",
                    options: [
                        "smtp_url": .string("smtp://127.0.0.1:\(smtp.port)"), "from": .string("a@example.test"), "to": .list([.string("b@example.test")]),
                        "starttls": .string("off"),
                    ]),
                "hook": ComponentSpec(name: "hook", type: "webhook", options: ["url": .string(receiver.url.absoluteString), "secret": .secret("hook/key")]),
                "phone": ComponentSpec(
                    name: "phone", type: "twilio",
                    options: [
                        "account_sid": .secret("twilio/sid"), "auth_token": .secret("twilio/token"), "from": .string("+15550001111"),
                        "to": .list([.string("+15550002222")]), "base_url": .string(twilio.baseURL.absoluteString),
                    ]),
                "log": ComponentSpec(name: "log", type: "file", options: ["path": .string("alerts.md")]),
            ], calendars: [:], service: ServiceSettings(), jobs: [])
        let (set, failures) = await NotifierFactory(plan: plan, secrets: secrets, sleep: SleepRecorder().sleep).notifiers(for: plan)
        #expect(failures.isEmpty)
        for name in ["inbox", "hook", "phone", "log"] { try await set.send(leaky, to: name) }
        await receiver.stop()
        await twilio.stop()
        let everything = [
            smtp.messages.map { DecodedMail($0.data).parts.values.joined() + ($0.data) }.joined(),
            receiver.received.map { String(decoding: $0.body, as: UTF8.self) }.joined(), twilio.messages.map(\.body).joined(),
            try String(contentsOfFile: directory.file("alerts.md"), encoding: .utf8),
        ]
        for text in everything {
            #expect(!text.isEmpty)
            #expect(!text.contains("sk-live-TOPSECRET"))
            #expect(!text.contains("hmac-key-value"))
            #expect(!text.contains("tok-999"))
        }
        #expect(twilio.messages.first?.body == "sms ‹redacted›")
        #expect(DecodedMail(try #require(smtp.messages.first).data).parts["text/plain"] == "body ‹redacted›")
    }
}

/// The webhook formats, each checked against the request its service documents.
@Suite("Webhook formats")
struct WebhookFormatTests {
    let message = NotificationMessage(
        subject: "schedctl: trade risk_limit (run #7)", text: "Job: trade (run #7)\n\ndaily loss limit reached\n", short: "trade #7 risk_limit",
        critical: true, deliveryID: "0c5e-delivery")

    func send(_ format: WebhookNotifier.Format, url: (WebhookReceiver) -> URL = { $0.url }, botToken: String? = nil, chatID: String? = nil)
        async throws -> WebhookReceiver.Received
    {
        let receiver = WebhookReceiver()
        try await receiver.start()
        let notifier = WebhookNotifier(
            name: "hook", url: url(receiver), secret: "k", format: format, botToken: botToken, chatID: chatID, attempts: 1, sleep: SleepRecorder().sleep)
        try await notifier.send(message)
        await receiver.stop()
        #expect(receiver.received.count == 1)
        let request = try #require(receiver.received.first)
        #expect(request.delivery == "0c5e-delivery", "every format carries the delivery id")
        #expect(request.signature?.hasPrefix("t=") == true, "and the signature")
        return request
    }

    func json(_ request: WebhookReceiver.Received) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
    }

    @Test func slackIncomingWebhookGetsText() async throws {
        let request = try await send(.slack)
        #expect(try json(request).keys.sorted() == ["text"])
        #expect(try json(request)["text"] as? String == "*schedctl: trade risk_limit (run #7)*\nJob: trade (run #7)\n\ndaily loss limit reached\n")
        #expect(request.contentType == "application/json")
    }

    @Test func discordWebhookGetsContentOfAtMost2000Characters() async throws {
        let request = try await send(.discord)
        let content = try #require(try json(request)["content"] as? String)
        #expect(content.hasPrefix("**schedctl: trade risk_limit (run #7)**\n"))
        #expect(content.count <= 2000)
    }

    @Test func ntfyGetsThePlainTextWithTitleAndUrgentPriority() async throws {
        let request = try await send(.ntfy)
        #expect(String(decoding: request.body, as: UTF8.self) == message.text)
        #expect(request.headers["title"] == "schedctl: trade risk_limit (run #7)")
        #expect(request.headers["priority"] == "urgent")
    }

    @Test func telegramSendMessageGetsChatIDAndText() async throws {
        let request = try await send(.telegram, url: { $0.base }, botToken: "123456:ABC-bot", chatID: "-1001234")
        #expect(request.path == "/bot123456:ABC-bot/sendMessage")
        #expect(try json(request)["chat_id"] as? String == "-1001234")
        #expect((try json(request)["text"] as? String)?.hasPrefix("schedctl: trade risk_limit (run #7)\n\nJob: trade") == true)
    }

    @Test func aRedirectIsNotFollowed() async throws {
        let receiver = WebhookReceiver()
        try await receiver.start()
        let target = URL(string: receiver.base.absoluteString + "/redirect")!
        let notifier = WebhookNotifier(name: "hook", url: target, secret: "k", attempts: 1, sleep: SleepRecorder().sleep)
        let error = await #expect(throws: NotifyError.self) { try await notifier.send(message) }
        await receiver.stop()
        #expect(error?.message.contains("redirect") == true)
        #expect(receiver.received.map(\.path) == ["/redirect"], "the signed request went nowhere else")
    }
}
