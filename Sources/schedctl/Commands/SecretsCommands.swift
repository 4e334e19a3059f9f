import ArgumentParser
import Foundation
import Inspection
import Jobs
import Scheduler
import Secrets

/// `schedctl secrets …`: the vault of credentials sealed with a key derived from your SSH key.
struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Manage credentials sealed in the database with a key derived from your SSH key.",
        discussion: """
            The SSH key: --ssh-key, else secrets.ssh_key in jobs.yaml, else $SCHEDCTL_SSH_KEY, else ~/.ssh/id_ed25519,
            else ~/.ssh/id_rsa. An encrypted key's passphrase comes from $SCHEDCTL_SSH_PASSPHRASE, the file
            $SCHEDCTL_SSH_PASSPHRASE_FILE names, the systemd credential ssh-passphrase, or a prompt.
            """,
        subcommands: [SetSecret.self, GetSecret.self, ListSecrets.self, RemoveSecret.self, RekeySecrets.self, ImportPVTradeStation.self])
}

/// Options shared by the `secrets` subcommands.
struct VaultOptions: ParsableArguments {
    @OptionGroup var config: ConfigOptions
    @Option(name: .customLong("ssh-key"), help: "The SSH private key that seals the vault.") var sshKey: String?

    /// The storage settings, the store and the vault (created on first use when `create` is set).
    func open(create: Bool) throws -> (settings: StorageSettings, store: Store, vault: Vault, warnings: [String]) {
        try VaultOptions.open(jobsPath: config.path, sshKey: sshKey, create: create)
    }

    /// `body` on the existing vault; a vault error becomes the command's message.
    func withVault<T>(_ body: (Vault) throws -> T) throws -> T {
        let vault = try open(create: false).vault
        return try reporting { try body(vault) }
    }

    /// The vault in the database `jobsPath` names. Only `database` and `secrets` are read, so a
    /// job still being written elsewhere in the file does not block storing its secrets.
    static func open(jobsPath: String, sshKey: String?, create: Bool) throws -> (
        settings: StorageSettings, store: Store, vault: Vault, warnings: [String]
    ) {
        let settings = try Wiring.loadStorage(jobsPath)
        let store = try Wiring.openStore(settings)
        do {
            let loaded = try VaultAccess.loadKey(explicitPath: sshKey, configured: settings.secrets.sshKey, prompt: Terminal.readSecret)
            for warning in loaded.warnings { printError("warning: \(warning)") }
            let vault = try VaultAccess.open(store: store, key: loaded.key, create: create, redactor: Wiring.redactor)
            return (settings, store, vault, loaded.warnings)
        } catch let error as SecretsError {
            throw CommandFailure(message: error.description)
        }
    }
}

/// Reading secrets from the terminal without echo.
enum Terminal {
    /// Prompts on /dev/tty with echo off; nil when there is no terminal.
    static let readSecret: @Sendable (String) -> String? = { prompt in
        let tty = open("/dev/tty", O_RDWR)
        guard tty >= 0 else { return nil }
        defer { close(tty) }
        _ = prompt.withCString { write(tty, $0, strlen($0)) }
        var original = termios()
        tcgetattr(tty, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(tty, TCSAFLUSH, &silent)
        defer {
            tcsetattr(tty, TCSAFLUSH, &original)
            _ = write(tty, "\n", 1)
        }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while read(tty, &byte, 1) == 1, byte != 10, byte != 13 { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The secret value: from a no-echo prompt on a terminal, else all of standard input
    /// (one trailing newline removed).
    static func readValue(name: String) throws -> String {
        if isatty(0) != 0, let value = readSecret("Value for \(name) (not echoed): ") {
            return value
        }
        let data = FileHandle.standardInput.readDataToEndOfFile()
        var value = String(decoding: data, as: UTF8.self)
        if value.hasSuffix("\r\n") { value.removeLast(2) } else if value.hasSuffix("\n") { value.removeLast() }
        return value
    }
}

struct SetSecret: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Store a secret (value from a no-echo prompt, or from standard input).")
    @Argument(help: "The secret's name, e.g. tradestation/client_id.") var name: String
    @OptionGroup var options: VaultOptions

    func run() async throws {
        try await exiting {
            guard SecretName.isValid(name) else {
                throw CommandFailure(message: "'\(name)' is not a valid secret name: use letters, digits, '.', '_', '/' and '-'", code: 64)
            }
            let value = try Terminal.readValue(name: name)
            guard !value.isEmpty else { throw CommandFailure(message: "the value is empty; nothing was stored", code: 64) }
            let opened = try options.open(create: true)
            try reporting { try opened.vault.set(name, to: value) }
            print("stored \(name) (sealed with \(opened.vault.keyFingerprint))")
        }
    }
}

struct GetSecret: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a secret's value to standard output.")
    @Argument(help: "The secret's name.") var name: String
    @OptionGroup var options: VaultOptions

    func run() async throws {
        try await exiting {
            guard let value = try options.withVault({ try $0.get(name) }) else {
                throw CommandFailure(message: "no secret '\(name)' in the vault; add it with 'schedctl secrets set \(name)'", code: 2)
            }
            print(value.value)
        }
    }
}

struct ListSecrets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List secret names and update times (never values).")
    @OptionGroup var options: VaultOptions
    @Flag(help: "Print JSON: [{name, updated, version}].") var json = false

    func run() async throws {
        try await exiting {
            let opened = try options.open(create: false)
            let items = try reporting { try opened.vault.list() }
            let rows = items.map { ["name": $0.name, "updated": Timestamps.iso($0.updatedAt.timeIntervalSince1970), "version": String($0.version)] }
            if json {
                print(try JSONText.encode(rows))
                return
            }
            print("vault sealed with \(opened.vault.keyFingerprint); \(items.count) secret(s)")
            var table = TextTable(headers: ["name", "updated", "version"])
            for row in rows { table.add([row["name"]!, row["updated"]!, row["version"]!]) }
            if !items.isEmpty { print(table.render()) }
        }
    }
}

struct RemoveSecret: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a secret.")
    @Argument(help: "The secret's name.") var name: String
    @OptionGroup var options: VaultOptions

    func run() async throws {
        try await exiting {
            guard try options.withVault({ try $0.remove(name) }) else { throw CommandFailure(message: "no secret '\(name)' in the vault", code: 2) }
            print("removed \(name)")
        }
    }
}

struct RekeySecrets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Re-seal every secret under another SSH key, in one transaction; old ciphertext is wiped from the database file and its WAL.")
    @OptionGroup var options: VaultOptions
    @Option(help: "The new SSH private key.") var to: String

    func run() async throws {
        try await exiting {
            let opened = try options.open(create: false)
            do {
                let newKey = try VaultAccess.loadKey(explicitPath: to, configured: nil, prompt: Terminal.readSecret)
                let vault = try VaultAccess.rekey(opened.vault, store: opened.store, to: newKey.key)
                print("re-sealed \(try vault.list().count) secret(s): \(opened.vault.keyFingerprint) → \(vault.keyFingerprint)")
                print("point secrets.ssh_key (or --ssh-key / SCHEDCTL_SSH_KEY) at \(to) from now on")
            } catch let error as SecretsError {
                throw CommandFailure(message: error.description)
            }
        }
    }
}

struct ImportPVTradeStation: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-pv-tradestation",
        abstract: "Import a pv-tradestation setup (API key and secret, token state, Penny Vault key) into the vault.",
        discussion: """
            Stored as tradestation/client_id, tradestation/client_secret, tradestation/token_state and pennyvault/token.
            Here --config names the pv-tradestation file; the schedctl configuration comes from --jobs (default: $SCHEDCTL_CONFIG, else ./jobs.yaml).
            With --sync (pv-tradestation's sync.toml) it also prints a jobs.yaml fragment: the broker, the strategy and a rebalance job.
            """)
    @Option(help: "The pv-tradestation configuration file (tradestation.toml).") var config: String
    @Option(help: "pv-tradestation's sync.toml (PortfolioID, AccountID): print a jobs.yaml fragment for it.") var sync: String?
    @Option(help: "The schedctl configuration whose database holds the vault.") var jobs: String?
    @Option(name: .customLong("ssh-key"), help: "The SSH private key that seals the vault.") var sshKey: String?

    func run() async throws {
        try await exiting {
            let environment = ProcessInfo.processInfo.environment
            let imported: PVTradeStationImport
            let syncFile: PVTradeStationSync?
            do {
                imported = try PVTradeStationImport.load(configPath: config, environment: environment)
                syncFile = try sync.map { try PVTradeStationSync.load(path: $0, environment: environment) }
            } catch let error as SecretsError {
                throw CommandFailure(message: error.description)
            }
            for warning in imported.warnings { printError("warning: \(warning)") }
            let jobsPath = jobs ?? environment["SCHEDCTL_CONFIG"] ?? "jobs.yaml"
            let opened = try VaultOptions.open(jobsPath: jobsPath, sshKey: sshKey, create: true)
            try reporting { try opened.vault.store(imported) }
            for item in imported.items { print("imported \(item.name) (from \(item.origin))") }
            if let syncFile {
                print("")
                print(PVTradeStationMigration.jobsFragment(mode: imported.mode, sync: syncFile), terminator: "")
            }
        }
    }
}
