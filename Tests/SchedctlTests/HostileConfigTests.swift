import Foundation
import SchedctlTesting
import Testing

/// A hostile or broken `jobs.yaml` is refused with a clear error instead of minutes of CPU or
/// gigabytes of memory: a size cap, no aliases as keys, a bound on alias expansion.
@Suite("Hostile jobs.yaml")
struct HostileConfigTests {
    /// Nine levels of nine aliases: 9^9 (387 million) leaves when expanded.
    static func laughs(asKey: Bool) -> String {
        var text = "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        for (previous, name) in zip(names, names.dropFirst()) {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
        }
        return text + (asKey ? "bomb:\n  ? *i\n  : x\njobs: {}\n" : "jobs: *i\n")
    }

    @Test(arguments: [false, true])
    func aBillionLaughsFileIsRefused(asKey: Bool) async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-hostile")
        let config = directory.file("jobs.yaml")
        try Self.laughs(asKey: asKey).write(toFile: config, atomically: true, encoding: .utf8)
        let started = Date()
        let result = try await SchedctlBinary.run(["validate", "--config", config])
        let seconds = Date().timeIntervalSince(started)
        #expect(result.status == 1)
        let expected = asKey ? "an alias or a collection is used as a mapping key" : "aliases expand the file to more than 100000 nodes"
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        #expect(result.stderr.contains(config))
        print("billion laughs (\(asKey ? "key" : "value")): refused in \(String(format: "%.2f", seconds)) s")
    }

    @Test func a64MiBFileIsRefusedUnread() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-hostile")
        let config = directory.file("jobs.yaml")
        try "jobs:\n".write(toFile: config, atomically: true, encoding: .utf8)
        let handle = try #require(FileHandle(forWritingAtPath: config))
        try handle.truncate(atOffset: 64 << 20)
        try handle.close()
        let started = Date()
        let result = try await SchedctlBinary.run(["validate", "--config", config])
        let seconds = Date().timeIntervalSince(started)
        #expect(result.status == 1)
        #expect(result.stderr.contains("the file is 64 MiB; jobs.yaml may be at most 16 MiB"), "\(result.stderr)")
        print("64 MiB jobs.yaml: refused in \(String(format: "%.2f", seconds)) s")
    }

    @Test func ordinaryAliasesStillWork() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-hostile")
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        jobs:
          a: { type: exec, command: &cmd ["/bin/true"], schedule: &hourly { every: 1h } }
          b: { type: exec, command: *cmd, schedule: *hourly, description: "it's fine: [x]: y" }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await SchedctlBinary.run(["validate", "--config", config])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    @Test(arguments: [
        ("base_url: \"https//sim-api.tradestation.com\"", "brokers.ts.base_url", "is not a https:// URL"),
        ("auth_url: http://signin.example.com", "brokers.ts.auth_url", "plain http:// to another machine"),
    ])
    func brokerURLsThatCannotWorkAreRefused(line: String, path: String, message: String) async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-urls")
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        brokers:
          ts: { type: tradestation, environment: live, account: "11111111", client_id: secret:ts/id, client_secret: secret:ts/secret, \(line) }
        jobs:
          j: { type: noop, schedule: { every: 1h } }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await SchedctlBinary.run(["validate", "--config", config])
        #expect(result.status == 1)
        #expect(result.stderr.contains(path) && result.stderr.contains(message), "\(result.stderr)")
    }
}
