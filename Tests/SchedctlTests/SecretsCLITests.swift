import Foundation
import SchedctlTesting
import Testing

@Suite("schedctl secrets", .serialized)
struct SecretsCLITests {
    func keygen(_ path: String, type: String = "ed25519", extra: [String] = []) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = ["-q", "-t", type, "-N", "", "-f", path] + extra
        try process.run()
        try await exited(process)
        try #require(process.terminationStatus == 0, "ssh-keygen is needed (apt-get install openssh-client)")
    }

    @Test func setGetListRemoveRekeyAndTheWrongKey() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-secrets")
        let keyA = directory.file("a")
        let keyB = directory.file("b")
        try await keygen(keyA)
        try await keygen(keyB, type: "rsa", extra: ["-b", "2048"])
        let config = directory.file("jobs.yaml")
        try "database: state.sqlite\njobs:\n  j: { type: noop, schedule: { every: 1h } }\n".write(toFile: config, atomically: true, encoding: .utf8)
        func schedctl(_ args: [String], key: String, stdin: String? = nil) async throws -> SchedctlBinary.Result {
            try await SchedctlBinary.run(args + ["--config", config, "--ssh-key", key], stdin: stdin)
        }
        #expect(try await schedctl(["secrets", "list"], key: keyA).status == 1)  // no vault yet
        let set = try await schedctl(["secrets", "set", "broker/token"], key: keyA, stdin: "s3cr3t-value\n")
        #expect(set.status == 0)
        #expect(!set.stdout.contains("s3cr3t-value"))
        #expect(try await schedctl(["secrets", "get", "broker/token"], key: keyA).stdout == "s3cr3t-value\n")
        let listed = try await schedctl(["secrets", "list", "--json"], key: keyA)
        #expect(listed.stdout.contains("\"name\" : \"broker/token\""))
        #expect(!listed.stdout.contains("s3cr3t-value"))

        let wrong = try await schedctl(["secrets", "get", "broker/token"], key: keyB)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("sealed with key SHA256:"))
        #expect(wrong.stderr.contains("you gave SHA256:"))
        #expect(!wrong.stdout.contains("s3cr3t-value"))
        #expect(try await schedctl(["secrets", "set", "other"], key: keyB, stdin: "x-value").status == 1)  // nothing written

        let rekey = try await SchedctlBinary.run(["secrets", "rekey", "--to", keyB, "--config", config, "--ssh-key", keyA])
        #expect(rekey.status == 0)
        #expect(try await schedctl(["secrets", "get", "broker/token"], key: keyB).stdout == "s3cr3t-value\n")
        #expect(try await schedctl(["secrets", "get", "broker/token"], key: keyA).status == 1)
        #expect(try await schedctl(["secrets", "rm", "broker/token"], key: keyB).status == 0)
        #expect(try await schedctl(["secrets", "get", "broker/token"], key: keyB).status == 2)
        #expect(try await schedctl(["secrets", "get", "broker/token"], key: directory.file("missing")).stderr.contains("missing"))
    }
}
