import Foundation
import Jobs
import Testing

/// A real SMTP conversation over loopback: libcurl against `SMTPListener` (a Swift listener in
/// the tests, so CI needs no Python).
@Suite("E-mail over SMTP (libcurl)")
struct EmailNotifierTests {
    let message = NotificationMessage(
        subject: "Daily report — ünïcode", text: "| a | b |\n| 1 | 2 |\n", html: "<table><tr><td>1</td></tr></table>", short: "short")

    @Test func deliversMultipartTextAndHTMLWithAuthentication() async throws {
        let server = try SMTPListener(.init(users: ["reports": "hunter2"]))
        defer { server.stop() }
        let notifier = try EmailNotifier(
            name: "inbox", url: "smtp://127.0.0.1:\(server.port)", from: "schedctl <bot@example.test>", to: ["me@example.test", "you@example.test"],
            username: "reports", password: "hunter2", startTLS: false)
        try await notifier.send(message)
        let received = try #require(server.messages.first)
        #expect(received.user == "reports")
        #expect(received.from == "bot@example.test")
        #expect(received.recipients == ["me@example.test", "you@example.test"])
        let mail = DecodedMail(received.data)
        #expect(mail.headers["subject"] == "=?UTF-8?B?\(Data("Daily report — ünïcode".utf8).base64EncodedString())?=")
        #expect(mail.headers["content-type"]?.hasPrefix("multipart/alternative") == true)
        #expect(mail.parts["text/plain"] == message.text)
        #expect(mail.parts["text/html"] == message.html)
    }

    @Test func refusesToSendWhenSTARTTLSIsNotOffered() async throws {
        let server = try SMTPListener(.init(users: ["reports": "hunter2"]))
        defer { server.stop() }
        let notifier = try EmailNotifier(
            name: "inbox", url: "smtp://127.0.0.1:\(server.port)", from: "bot@example.test", to: ["me@example.test"], username: "reports",
            password: "hunter2")
        let error = await #expect(throws: NotifyError.self) { try await notifier.send(message) }
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("refused STARTTLS") == true)
        #expect(error?.message.contains("smtps://") == true)
        #expect(server.messages.isEmpty)
        #expect(!server.commands.contains { $0.hasPrefix("AUTH") }, "no credentials in clear")
    }

    @Test func refusesToSendWhenSTARTTLSIsDenied() async throws {
        let server = try SMTPListener(.init(advertiseStartTLS: true, users: ["reports": "hunter2"]))
        defer { server.stop() }
        let notifier = try EmailNotifier(
            name: "inbox", url: "smtp://127.0.0.1:\(server.port)", from: "bot@example.test", to: ["me@example.test"], username: "reports",
            password: "hunter2")
        let error = await #expect(throws: NotifyError.self) { try await notifier.send(message) }
        #expect(error?.kind == .tls)
        #expect(server.commands.contains("STARTTLS"))
        #expect(!server.commands.contains { $0.hasPrefix("AUTH") })
        #expect(server.messages.isEmpty)
    }

    @Test func reportsRefusedAuthentication() async throws {
        let server = try SMTPListener(.init(users: ["reports": "hunter2"]))
        defer { server.stop() }
        let notifier = try EmailNotifier(
            name: "inbox", url: "smtp://127.0.0.1:\(server.port)", from: "bot@example.test", to: ["me@example.test"], username: "reports",
            password: "wrong-password", startTLS: false)
        let error = await #expect(throws: NotifyError.self) { try await notifier.send(message) }
        #expect(error?.kind == .authentication)
        #expect(error?.message.contains("refused the login for 'reports'") == true)
        #expect(error?.message.contains("wrong-password") == false)
        #expect(server.messages.isEmpty)
    }

    @Test func reportsARejectedRecipient() async throws {
        let server = try SMTPListener(.init(rejected: ["nobody@example.test"]))
        defer { server.stop() }
        let notifier = try EmailNotifier(
            name: "inbox", url: "smtp://127.0.0.1:\(server.port)", from: "bot@example.test", to: ["me@example.test", "nobody@example.test"],
            startTLS: false)
        let error = await #expect(throws: NotifyError.self) { try await notifier.send(message) }
        #expect(error?.kind == .recipientRejected)
        #expect(error?.message.contains("550") == true)
        #expect(server.messages.isEmpty)
    }

    @Test func reportsAnUnreachableServer() async throws {
        let (port, release) = try SMTPListener.refusingPort()
        defer { release() }
        let notifier = try EmailNotifier(name: "inbox", url: "smtp://127.0.0.1:\(port)", from: "a@example.test", to: ["b@example.test"], startTLS: false)
        let error = await #expect(throws: NotifyError.self) { try await notifier.send(message) }
        #expect(error?.kind == .transport)
    }

    @Test(arguments: [
        ("http://mail.example.test", "is not an SMTP address"), ("smtp://mail.example.test:587", "allowed only for a relay on this machine"),
        ("smtps://127.0.0.1:465", "does not apply to smtps://"),
    ])
    func rejectsConfigurationsItCannotUseSafely(url: String, expected: String) throws {
        let error = #expect(throws: NotifyError.self) {
            _ = try EmailNotifier(name: "inbox", url: url, from: "a@example.test", to: ["b@example.test"], startTLS: url.hasPrefix("http"))
        }
        #expect(error?.kind == .configuration)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
    }
}
