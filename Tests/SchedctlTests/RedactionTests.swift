import Foundation
import SchedctlTesting
import Testing

/// Seeds known secrets, runs jobs that fail in several ways, then searches everything a user or
/// an attacker could read — logs, stderr, `history`/`show` output, the raw database — for them.
@Suite("Secrets never leak", .serialized)
struct RedactionTests {
    let token = "tok-7f3a9c2e51b84d06"
    let password = "pw-Q8v!rT5#kL2m"

    @Test func failingJobsNeverPrintOrStoreSecretValues() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-redact")
        let key = try await directory.sshKey()
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        secrets: { ssh_key: \(key) }
        service: { lease: 2s, shutdown_grace: 1s }
        jobs:
          echo-and-fail:
            type: exec
            command: 'echo "token is $TOKEN"; echo "password=$PASSWORD" >&2; exit 3'
            env: { TOKEN: secret:api/token, PASSWORD: secret:db/password }
            schedule: { every: 1s }
          echoes-request:
            type: exec
            command: 'echo "HTTP 401 for GET /v3/accounts Authorization: Bearer $TOKEN"; exit 1'
            env: { TOKEN: secret:api/token }
            schedule: { every: 1s }
            retry: { attempts: 2, backoff: 1s }
          killed:
            type: exec
            command: 'echo "dying with $PASSWORD"; kill -9 $$'
            env: { PASSWORD: secret:db/password }
            schedule: { every: 1s }
          missing-secret:
            type: exec
            command: 'echo never'
            env: { X: secret:not/there }
            schedule: { every: 1s }
        """.write(toFile: config, atomically: true, encoding: .utf8)

        var transcript = ""
        func schedctl(_ args: [String], stdin: String? = nil) async throws -> SchedctlBinary.Result {
            let result = try await SchedctlBinary.run(args + ["--config", config], stdin: stdin, directory: directory.path)
            transcript += result.stdout + result.stderr
            return result
        }
        #expect(try await schedctl(["secrets", "set", "api/token"], stdin: token + "\n").status == 0)
        #expect(try await schedctl(["secrets", "set", "db/password"], stdin: password).status == 0)
        #expect(try await schedctl(["secrets", "list"]).stdout.contains("api/token"))
        let validated = try await schedctl(["validate"])
        #expect(validated.status == 1)
        #expect(validated.stderr.contains("secret 'not/there' is not in the vault"))

        let manual = try await schedctl(["run", "echo-and-fail"])
        #expect(manual.status == 1)
        let log = directory.file("serve.log")
        let service = try SchedctlBinary.serve(config: config, log: log)
        try await Task.sleep(for: .seconds(5))
        kill(service.processIdentifier, SIGTERM)
        try await exited(service)
        transcript += try String(contentsOfFile: log, encoding: .utf8)

        let history = try await schedctl(["history", "--limit", "500", "--json"])
        let runs = try #require(try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]])
        let failed = runs.filter { $0["state"] as? String == "failed" }
        #expect(Set(failed.compactMap { $0["job"] as? String }) == ["echo-and-fail", "echoes-request", "killed", "missing-secret"])
        for run in runs.prefix(60) {
            let id = try #require(run["id"] as? Int)
            _ = try await schedctl(["show", "\(id)", "--json"])
            _ = try await schedctl(["show", "\(id)"])
        }
        #expect(transcript.contains("‹redacted›"), "the failures echoed the secrets, so redaction must have replaced them")
        #expect(transcript.contains("secret 'not/there'"))
        for secret in [token, password] {
            #expect(!transcript.contains(secret), "a secret value leaked into command output or logs")
            for file in ["state.sqlite", "state.sqlite-wal"] {
                let path = directory.file(file)
                guard let bytes = FileManager.default.contents(atPath: path) else { continue }
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "a secret value is in \(file) in clear")
            }
        }
    }

    @Test func aSecretStraddlingTheCutOfTheOutputTailLeavesNoFragment() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-redact-tail")
        let key = try await directory.sshKey()
        let config = directory.file("jobs.yaml")
        // The tail keeps the last 4096 bytes: the token's last 10 characters fall inside it.
        try """
        database: state.sqlite
        secrets: { ssh_key: \(key) }
        jobs:
          straddle:
            type: exec
            command: 'printf "%s" "$TOKEN"; head -c 4086 /dev/zero | tr "\\0" x; exit 3'
            env: { TOKEN: secret:api/token }
            schedule: { every: 1h }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try await SchedctlBinary.run(["secrets", "set", "api/token", "--config", config], stdin: token).status == 0)
        let run = try await SchedctlBinary.run(["run", "straddle", "--config", config])
        #expect(run.status == 1)
        let history = try await SchedctlBinary.run(["history", "--json", "--config", config])
        let id = try #require((try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]])?.first?["id"] as? Int)
        let shown = try await SchedctlBinary.run(["show", "\(id)", "--json", "--config", config])
        #expect(shown.stdout.contains("xxxxxxxx"), "the tail was stored")
        let fragment = String(token.suffix(10))
        #expect(!shown.stdout.contains(fragment), "the end of the secret survived the cut")
        for file in ["state.sqlite", "state.sqlite-wal"] {
            guard let bytes = FileManager.default.contents(atPath: directory.file(file)) else { continue }
            #expect(bytes.range(of: Data(fragment.utf8)) == nil, "a fragment of the secret is in \(file)")
        }
    }
}
