import Foundation
import SchedctlTesting
import Secrets
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

@Suite("schedctl secrets: pv-tradestation move and half-written jobs", .serialized)
struct PVTradeStationMoveCLITests {
    func keygen(_ path: String, type: String, extra: [String] = []) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = ["-q", "-t", type, "-N", "", "-f", path] + extra
        try process.run()
        try await exited(process)
        try #require(process.terminationStatus == 0, "ssh-keygen is needed (apt-get install openssh-client)")
    }

    /// A half-written rebalance job (unknown or incomplete) must not block storing its secrets.
    static let halfWritten = """
        database: state.sqlite
        jobs:
          rebalance-growth:
            type: rebalance
            strategy: growth
            schedule: { market: XNYS, at: open, days: strategy
        """

    @Test func secretsWorkWhileJobsHaveErrors() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-halfjobs")
        let key = directory.file("id")
        try await keygen(key, type: "ed25519")
        let config = directory.file("jobs.yaml")
        // Valid YAML, but the job is incomplete and its type unknown to validate.
        try "database: state.sqlite\njobs:\n  rebalance-growth:\n    type: rebalance\n    strategy: growth\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        #expect(try await SchedctlBinary.run(["validate", "--config", config]).status != 0)
        let set = try await SchedctlBinary.run(["secrets", "set", "pennyvault/token", "--config", config, "--ssh-key", key], stdin: "pv-jwt-value\n")
        #expect(set.status == 0, "\(set.stderr)")
        let got = try await SchedctlBinary.run(["secrets", "get", "pennyvault/token", "--config", config, "--ssh-key", key])
        #expect(got.stdout == "pv-jwt-value\n")
        #expect(FileManager.default.fileExists(atPath: directory.file("state.sqlite")))

        // A mistake in the settings the vault needs is still an error naming file and line.
        try "database: state.sqlite\nsecrets:\n  ssh_kye: /x\njobs:\n  j: { type: rebalance }\n".write(toFile: config, atomically: true, encoding: .utf8)
        let bad = try await SchedctlBinary.run(["secrets", "list", "--config", config, "--ssh-key", key])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("jobs.yaml:3"))
        #expect(bad.stderr.contains("ssh_key"))
    }

    @Test func importTheGoLayoutAndPrintAJobsFragment() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-pvimport")
        let vaultKey = directory.file("vault_key")
        try await keygen(vaultKey, type: "ed25519")
        let pvKey = directory.file("id_rsa")
        try await keygen(pvKey, type: "rsa", extra: ["-b", "2048", "-m", "PEM"])
        let sealingKey = PVTradeStationImport.sealingKey(keyFileBytes: try Data(contentsOf: URL(fileURLWithPath: pvKey)))
        func seal(_ text: String) throws -> String { try PVTradeStationImport.seal(Data(text.utf8), key: sealingKey) }
        let tokenJSON = #"{"access_token":"opaque-cli-access","token_type":"Bearer","refresh_token":"cli-refresh","expires_in":1200}"#
        try (try seal(tokenJSON)).write(toFile: directory.file("state"), atomically: true, encoding: .utf8)
        let toml = [
            "mode = \"sim\"", "state_file = \"state\"", "[auth]", "key_file = \"\(pvKey)\"",
            "apikey = \"\(try seal("cli-client-id"))\"", "secret = \"\(try seal("cli-client-secret"))\"",
            "[pv]", "apikey = \"cli-pv-v1-key\"", "",
        ].joined(separator: "\r\n")
        try toml.write(toFile: directory.file("tradestation.toml"), atomically: true, encoding: .utf8)
        try "PortfolioID = \"growth-slug\"\r\nAccountID = \"SIM1234567M\"\r\n".write(toFile: directory.file("sync.toml"), atomically: true, encoding: .utf8)
        let config = directory.file("jobs.yaml")
        try Self.halfWritten.write(toFile: config, atomically: true, encoding: .utf8)
        func run(_ args: [String]) async throws -> SchedctlBinary.Result {
            try await SchedctlBinary.run(args + ["--jobs", config, "--ssh-key", vaultKey])
        }

        // A sync file that does not exist fails before anything is stored.
        let missing = try await run([
            "secrets", "import-pv-tradestation", "--config", directory.file("tradestation.toml"), "--sync", directory.file("nope.toml"),
        ])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("nope.toml"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("state.sqlite")))

        // The half-written jobs.yaml is a YAML syntax error: that does block (no database setting can be read).
        let blocked = try await run(["secrets", "import-pv-tradestation", "--config", directory.file("tradestation.toml")])
        #expect(blocked.status != 0)
        #expect(blocked.stderr.contains("jobs.yaml:"))
        try "database: state.sqlite\njobs:\n  rebalance-growth: { type: rebalance, strategy: growth }\n".write(
            toFile: config, atomically: true, encoding: .utf8)

        let imported = try await run([
            "secrets", "import-pv-tradestation", "--config", directory.file("tradestation.toml"), "--sync", directory.file("sync.toml"),
        ])
        #expect(imported.status == 0, "\(imported.stderr)")
        for name in ["tradestation/client_id", "tradestation/client_secret", "tradestation/token_state", "pennyvault/token"] {
            #expect(imported.stdout.contains("imported \(name)"))
        }
        #expect(imported.stderr.contains("X-Pv-Api"))
        #expect(imported.stderr.contains("imported as expired"))
        for fragment in [
            "type: pennyvault", "portfolio: \"growth-slug\"", "token: secret:pennyvault/token", "type: tradestation",
            "environment: sim", "account: \"SIM1234567M\"", "type: rebalance", "broker: tradestation", "strategy: pennyvault",
            "days: strategy", "dry_run: true", "cash_buffer: 1%", "min_trade: 100", "drift: 0.5%",
        ] {
            #expect(imported.stdout.contains(fragment), "missing \(fragment)")
        }
        for value in ["cli-client-id", "cli-client-secret", "cli-pv-v1-key", "opaque-cli-access", "cli-refresh"] {
            #expect(!imported.stdout.contains(value) && !imported.stderr.contains(value))
        }
        let secret = try await SchedctlBinary.run(["secrets", "get", "tradestation/client_secret", "--config", config, "--ssh-key", vaultKey])
        #expect(secret.stdout == "cli-client-secret\n")
        let state = try await SchedctlBinary.run(["secrets", "get", "tradestation/token_state", "--config", config, "--ssh-key", vaultKey])
        #expect(state.stdout.contains("\"accessTokenExpiresAt\":\"1970-01-01T00:00:00"))
        #expect(state.stdout.contains("cli-refresh"))
    }
}

@Suite("schedctl secrets: the passphrase from a file or a systemd credential", .serialized)
struct PassphraseSourceCLITests {
    @Test func aPassphraseFileOrCredentialUnlocksAnEncryptedKey() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-passphrase")
        let key = directory.file("id_ed25519")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = ["-q", "-t", "ed25519", "-N", "correct horse battery", "-f", key]
        try process.run()
        try await exited(process)
        try #require(process.terminationStatus == 0, "ssh-keygen is needed (apt-get install openssh-client)")
        let config = directory.file("jobs.yaml")
        try "database: state.sqlite\njobs:\n  j: { type: noop, schedule: { every: 1h } }\n".write(toFile: config, atomically: true, encoding: .utf8)
        let file = directory.file("passphrase")
        try "correct horse battery\n".write(toFile: file, atomically: true, encoding: .utf8)
        let credentials = directory.file("credentials")
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        try "correct horse battery".write(toFile: (credentials as NSString).appendingPathComponent("ssh-passphrase"), atomically: true, encoding: .utf8)

        let fromFile = try await SchedctlBinary.run(
            ["secrets", "set", "x/y", "--config", config, "--ssh-key", key], stdin: "v1", environment: ["SCHEDCTL_SSH_PASSPHRASE_FILE": file])
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        let fromCredential = try await SchedctlBinary.run(
            ["secrets", "get", "x/y", "--config", config, "--ssh-key", key], environment: ["CREDENTIALS_DIRECTORY": credentials])
        #expect(fromCredential.status == 0 && fromCredential.stdout == "v1\n", "\(fromCredential.stderr)")
        let missing = try await SchedctlBinary.run(
            ["secrets", "get", "x/y", "--config", config, "--ssh-key", key], environment: ["SCHEDCTL_SSH_PASSPHRASE_FILE": directory.file("nope")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read the passphrase file '\(directory.file("nope"))'"), "\(missing.stderr)")
    }
}
