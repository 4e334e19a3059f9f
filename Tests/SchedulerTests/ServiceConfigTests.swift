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
}
