import Testing

@testable import Scheduler

/// The `service.durability` key: parsed, defaulted, and rejected when misspelled.
@Suite("Service durability setting")
struct ServiceConfigTests {
    static let jobs = "jobs:\n  beat: { type: noop, schedule: { every: 1m } }\n"

    @Test func durabilityDefaultsToFullAndAcceptsNormal() throws {
        #expect(try ConfigTests.load("\(Self.jobs)").service.durability == .full)
        #expect(try ConfigTests.load("service: { durability: normal }\n\(Self.jobs)").service.durability == .normal)
    }

    @Test func anUnknownDurabilityIsAnErrorThatSaysWhatToUse() {
        let diagnostics = ConfigTests.diagnostics("service: { durability: fast }\n\(Self.jobs)")
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.path == "service.durability")
        #expect(diagnostics.first?.message.contains("use 'full'") == true)
    }

    /// `service.http`: on at 127.0.0.1:8377 by default, `off`, an explicit port, a public
    /// address with its token (listed among the secret references `validate` checks).
    @Test(
        arguments: [
            ("", "127.0.0.1", 8377, nil),
            ("service: { http: { listen: 127.0.0.1:0 } }\n", "127.0.0.1", 0, nil),
            ("service: { http: { listen: \"[::1]:9000\" } }\n", "::1", 9000, nil),
            ("service: { http: { listen: 0.0.0.0:8377, token: secret:status/token } }\n", "0.0.0.0", 8377, "status/token"),
        ] as [(String, String, Int, String?)])
    func httpListenAndToken(yaml: String, host: String, port: Int, token: String?) throws {
        let plan = try ConfigTests.load(yaml + Self.jobs)
        let http = try #require(plan.service.http)
        #expect(http.host == host && http.port == port && http.token == token)
        #expect(plan.secretReferences.contains { $0.path == "service.http.token" } == (token != nil))
    }

    @Test func httpOffDisablesTheEndpoint() throws {
        #expect(try ConfigTests.load("service: { http: off }\n\(Self.jobs)").service.http == nil)
    }
}
