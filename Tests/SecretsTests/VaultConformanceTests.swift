import Foundation
import GRDB
import Testing

@testable import Secrets
@testable import SecretsSQLite

/// The storages every vault test runs against.
enum StorageKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory
    case sqlite

    var testDescription: String { rawValue }

    /// Two handles on the same stored vault (for SQLite: two connections pools on one file, as
    /// two processes would have), plus what keeps them alive.
    func makeShared() throws -> (any VaultStorage, any VaultStorage, AnyObject) {
        switch self {
        case .memory:
            let storage = InMemoryVaultStorage()
            return (storage, storage, storage)
        case .sqlite:
            let dir = try TemporaryDirectory()
            let path = dir.path("schedctl.sqlite")
            let first = try Self.openPool(path)
            let second = try Self.openPool(path)
            return (SQLiteVaultStorage(writer: first), SQLiteVaultStorage(writer: second), dir)
        }
    }

    func make() throws -> (any VaultStorage, AnyObject) {
        let (storage, _, keepAlive) = try makeShared()
        return (storage, keepAlive)
    }

    static func openPool(_ path: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let pool = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        SQLiteVaultStorage.registerMigrations(&migrator)
        try migrator.migrate(pool)
        return pool
    }
}

let fixedNow = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

@Suite("Vault conformance (in-memory and SQLite)")
struct VaultConformanceTests {
    func open(_ storage: any VaultStorage, _ key: SSHPrivateKey, create: Bool = true, redactor: Redactor? = nil) throws -> Vault {
        try Vault.open(storage: storage, key: key, create: create, redactor: redactor, now: { fixedNow })
    }

    /// Everything stored, to check that failed operations changed nothing.
    func snapshot(_ storage: any VaultStorage) throws -> (VaultHeader?, [VaultRecord]) {
        try storage.read { transaction in (try transaction.header(), try transaction.allRecords()) }
    }

    func mutate(_ storage: any VaultStorage, _ name: String, _ change: @escaping @Sendable (inout VaultRecord) -> Void) throws {
        try storage.write { transaction in
            var record = try #require(try transaction.record(named: name))
            change(&record)
            try transaction.upsert(record)
        }
    }

    @Test("set, get, list, remove", arguments: StorageKind.allCases)
    func basicOperations(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let vault = try open(storage, try makeTestKey(seed: 1))

        try vault.set("tradestation/client_id", to: "client-id-value")
        try vault.set("pennyvault/token", to: "pv-token-value")
        try vault.set("pennyvault/token", to: "pv-token-value-2")

        #expect(holds(try vault.get("tradestation/client_id"), "client-id-value"))
        #expect(holds(try vault.get("pennyvault/token"), "pv-token-value-2"))
        #expect(try vault.get("missing/name") == nil)
        #expect(holds(try vault.resolve(SecretReference(parsing: "secret:pennyvault/token")), "pv-token-value-2"))

        let listed = try vault.list()
        #expect(listed.map(\.name) == ["pennyvault/token", "tradestation/client_id"])
        #expect(listed.map(\.version) == [2, 1])
        #expect(listed.allSatisfy { $0.updatedAt == fixedNow })

        #expect(try vault.remove("pennyvault/token"))
        #expect(try !vault.remove("pennyvault/token"))
        #expect(try vault.list().map(\.name) == ["tradestation/client_id"])

        let missing = #expect(throws: SecretsError.self) { try vault.require("pennyvault/token") }
        #expect(missing?.kind == .secretNotFound)
        #expect(missing?.message.contains("schedctl secrets set pennyvault/token") == true)

        let badName = #expect(throws: SecretsError.self) { try vault.set("bad name!", to: "x") }
        #expect(badName?.kind == .invalidSecretName)
    }

    @Test("values are stored sealed, never in clear", arguments: StorageKind.allCases)
    func storedSealed(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let vault = try open(storage, try makeTestKey(seed: 1))
        let value = "plaintext-canary-\(UUID().uuidString)"
        try vault.set("canary", to: value)
        try vault.set("canary2", to: value)
        let (header, records) = try snapshot(storage)
        #expect(header?.formatVersion == 1)
        #expect(header?.salt.count == 32)
        #expect(records.count == 2)
        for record in records {
            #expect(record.sealed.range(of: Data(value.utf8)) == nil)
            #expect(record.sealed.count == 12 + value.utf8.count + 16)
        }
        #expect(records[0].sealed.prefix(12) != records[1].sealed.prefix(12))  // fresh nonces
    }

    @Test("reopening with the same key reads the same vault", arguments: StorageKind.allCases)
    func reopen(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let key = try makeTestKey(seed: 3)
        try open(storage, key).set("a", to: "value-a")
        let again = try open(storage, key, create: false)
        #expect(holds(try again.get("a"), "value-a"))
        #expect(again.keyFingerprint == key.fingerprint)
    }

    @Test("an empty storage is not created when create is false", arguments: StorageKind.allCases)
    func notInitialized(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let error = #expect(throws: SecretsError.self) { try open(storage, try makeTestKey(seed: 1), create: false) }
        #expect(error?.kind == .vaultNotInitialized)
        #expect(try snapshot(storage).0 == nil)
    }

    @Test("the wrong key names both fingerprints and changes nothing", arguments: StorageKind.allCases)
    func wrongKey(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let right = try makeTestKey(seed: 1), wrong = try makeTestKey(seed: 2)
        try open(storage, right).set("a", to: "value-a")
        let before = try snapshot(storage)
        let error = #expect(throws: SecretsError.self) { try open(storage, wrong) }
        #expect(error?.kind == .wrongVaultKey)
        #expect(error?.message.contains("sealed with key \(right.fingerprint), you gave \(wrong.fingerprint)") == true)
        let after = try snapshot(storage)
        #expect(after.0 == before.0 && after.1 == before.1)
    }

    @Test("tampered ciphertext fails to open and nothing is overwritten", arguments: StorageKind.allCases)
    func tampered(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let vault = try open(storage, try makeTestKey(seed: 1))
        try vault.set("a", to: "value-a")
        for position in [0, 12, 20] {  // nonce, ciphertext, tag
            try vault.set("a", to: "value-a")
            try mutate(storage, "a") { $0.sealed[$0.sealed.startIndex + position] ^= 0x01 }
            let before = try snapshot(storage)
            let error = #expect(throws: SecretsError.self) { try vault.get("a") }
            #expect(error?.kind == .vaultCorrupted)
            #expect(error?.secretName == "a")
            #expect(error?.message.contains("failed authentication") == true)
            #expect(try snapshot(storage).1 == before.1)
        }
    }

    @Test("truncated ciphertext is reported", arguments: StorageKind.allCases)
    func truncated(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let vault = try open(storage, try makeTestKey(seed: 1))
        try vault.set("a", to: "a-longer-value-to-cut")
        try mutate(storage, "a") { $0.sealed = $0.sealed.prefix(10) }
        let short = #expect(throws: SecretsError.self) { try vault.get("a") }
        #expect(short?.kind == .vaultCorrupted)
        #expect(short?.message.contains("truncated") == true)

        try vault.set("a", to: "a-longer-value-to-cut")
        try mutate(storage, "a") { $0.sealed = $0.sealed.dropLast(1) }
        let cut = #expect(throws: SecretsError.self) { try vault.get("a") }
        #expect(cut?.kind == .vaultCorrupted)
    }

    @Test("a sealed value moved to another name does not open", arguments: StorageKind.allCases)
    func nameSwap(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let vault = try open(storage, try makeTestKey(seed: 1))
        try vault.set("tradestation/client_secret", to: "the-secret")
        try vault.set("public/note", to: "harmless")
        let sealed = try #require(try storage.read { try $0.record(named: "tradestation/client_secret") }).sealed
        try mutate(storage, "public/note") { $0.sealed = sealed }
        let error = #expect(throws: SecretsError.self) { try vault.get("public/note") }
        #expect(error?.kind == .vaultCorrupted)
        #expect(error?.message.contains("moved from another name") == true)
    }

    @Test("a value sealed in another vault does not open, even with the same SSH key", arguments: StorageKind.allCases)
    func crossVault(kind: StorageKind) throws {
        let (storageA, keepA) = try kind.make()
        let (storageB, keepB) = try kind.make()
        defer { withExtendedLifetime((keepA, keepB)) {} }
        let key = try makeTestKey(seed: 1)
        try open(storageA, key).set("a", to: "value-a")
        let vaultB = try open(storageB, key)
        try vaultB.set("a", to: "other")
        let sealed = try #require(try storageA.read { try $0.record(named: "a") }).sealed
        try mutate(storageB, "a") { $0.sealed = sealed }
        #expect(throws: SecretsError.self) { try vaultB.get("a") }
    }

    @Test("an unknown format version is refused and left alone", arguments: StorageKind.allCases)
    func unknownVersion(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let key = try makeTestKey(seed: 1)
        let vault = try open(storage, key)
        try vault.set("a", to: "value-a")
        try storage.write { transaction in
            var header = try #require(try transaction.header())
            header.formatVersion = 2
            try transaction.setHeader(header)
        }
        let before = try snapshot(storage)
        let error = #expect(throws: SecretsError.self) { try open(storage, key) }
        #expect(error?.kind == .unsupportedVaultVersion)
        #expect(error?.message.contains("version 2") == true)
        #expect(error?.message.contains("upgrade schedctl") == true)
        // An already open vault refuses too, and writes nothing.
        #expect(throws: SecretsError.self) { try vault.set("b", to: "value-b") }
        let after = try snapshot(storage)
        #expect(after.0 == before.0 && after.1 == before.1)
    }

    @Test("a token state written is registered with the redactor at once")
    func writtenTokensAreRedacted() throws {
        let redactor = Redactor()
        let vault = try open(InMemoryVaultStorage(), try makeTestKey(seed: 5), redactor: redactor)
        let state = TokenState(accessToken: "fresh-access-7Qx", refreshToken: "fresh-refresh-9Lm")
        try vault.replaceTokenState(for: "tradestation", expectedVersion: nil, with: state)
        #expect(redactor.redact("Bearer fresh-access-7Qx / fresh-refresh-9Lm") == "Bearer ‹redacted› / ‹redacted›")
        vault.registerForRedaction("market-data-3Zp")
        #expect(redactor.redact("md market-data-3Zp") == "md ‹redacted›")
    }

    @Test("rekey re-seals everything under the new key in one transaction", arguments: StorageKind.allCases)
    func rekey(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let oldKey = try makeTestKey(seed: 1), newKey = try makeTestKey(seed: 2)
        let vault = try open(storage, oldKey)
        let values = ["a": "value-a", "b/c": "value-bc", "d": "value-d"]
        for (name, value) in values { try vault.set(name, to: value) }
        _ = try vault.replaceTokenState(for: "tradestation", expectedVersion: nil, with: TokenState(accessToken: "access-1"))
        let before = try snapshot(storage)

        let rekeyed = try vault.rekey(to: newKey)
        #expect(rekeyed.keyFingerprint == newKey.fingerprint)
        for (name, value) in values { #expect(holds(try rekeyed.get(name), value)) }
        #expect(try rekeyed.tokenState(for: "tradestation")?.version == 1)

        let after = try snapshot(storage)
        #expect(after.0?.keyFingerprint == newKey.fingerprint)
        #expect(after.0?.salt != before.0?.salt)
        #expect(after.1.map(\.name) == before.1.map(\.name))
        #expect(after.1.map(\.version) == before.1.map(\.version))
        #expect(zip(after.1, before.1).allSatisfy { $0.sealed != $1.sealed })

        // The old key no longer opens it; the old handle refuses to write.
        let wrong = #expect(throws: SecretsError.self) { try open(storage, oldKey) }
        #expect(wrong?.kind == .wrongVaultKey)
        let stale = #expect(throws: SecretsError.self) { try vault.set("a", to: "stale") }
        #expect(stale?.kind == .vaultChanged)
        #expect(holds(try open(storage, newKey, create: false).get("a"), "value-a"))
    }

    @Test("a rekey that meets a damaged value changes nothing", arguments: StorageKind.allCases)
    func rekeyAllOrNothing(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let vault = try open(storage, try makeTestKey(seed: 1))
        try vault.set("a", to: "value-a")
        try vault.set("z", to: "value-z")
        try mutate(storage, "z") { $0.sealed[$0.sealed.startIndex + 15] ^= 0xFF }
        let before = try snapshot(storage)
        let error = #expect(throws: SecretsError.self) { try vault.rekey(to: try makeTestKey(seed: 2)) }
        #expect(error?.kind == .vaultCorrupted)
        let after = try snapshot(storage)
        #expect(after.0 == before.0 && after.1 == before.1)
        #expect(holds(try vault.get("a"), "value-a"))
    }

    @Test("setAll writes all or nothing", arguments: StorageKind.allCases)
    func setAllAtomic(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let vault = try open(storage, try makeTestKey(seed: 1))
        #expect(throws: SecretsError.self) {
            try vault.setAll([(name: "ok", data: Data("v".utf8)), (name: "../bad", data: Data("v".utf8))])
        }
        #expect(try vault.list().isEmpty)
        try vault.setAll([(name: "one", data: Data("v1".utf8)), (name: "two", data: Data("v2".utf8))])
        #expect(try vault.list().count == 2)
    }

    @Test("token state compare-and-swap keeps the newest token", arguments: StorageKind.allCases)
    func tokenStateCAS(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let vault = try open(storage, try makeTestKey(seed: 1))
        #expect(try vault.tokenState(for: "tradestation") == nil)

        let first = TokenState(
            accessToken: "access-1", accessTokenExpiresAt: fixedNow.addingTimeInterval(1200),
            refreshToken: "refresh-1", tokenType: "Bearer")
        let v1 = try vault.replaceTokenState(for: "tradestation", expectedVersion: nil, with: first)
        #expect(v1.version == 1)
        let tooEarly = #expect(throws: SecretsError.self) {
            try vault.replaceTokenState(for: "tradestation", expectedVersion: nil, with: first)
        }
        #expect(tooEarly?.kind == .tokenStateConflict)

        // Process A and B both read version 1; A rotates the refresh token first.
        let seenByA = try #require(try vault.tokenState(for: "tradestation"))
        let seenByB = try #require(try vault.tokenState(for: "tradestation"))
        #expect(seenByA.state == first)
        var rotated = seenByA.state
        rotated.accessToken = "access-2"
        rotated.refreshToken = "refresh-2"
        let v2 = try vault.replaceTokenState(for: "tradestation", expectedVersion: seenByA.version, with: rotated)
        #expect(v2.version == 2)

        var staleB = seenByB.state
        staleB.accessToken = "access-from-b"
        let conflict = #expect(throws: SecretsError.self) {
            try vault.replaceTokenState(for: "tradestation", expectedVersion: seenByB.version, with: staleB)
        }
        #expect(conflict?.kind == .tokenStateConflict)
        #expect(conflict?.message.contains("expected version 1, found 2") == true)
        #expect(conflict?.message.contains("refresh-") == false)

        let current = try #require(try vault.tokenState(for: "tradestation"))
        #expect(current.version == 2)
        #expect(current.state.refreshToken == "refresh-2")
        #expect(current.state.accessTokenExpiresAt == fixedNow.addingTimeInterval(1200))
    }

    @Test("concurrent writers never lose a token update", arguments: StorageKind.allCases)
    func concurrentCAS(kind: StorageKind) async throws {
        let (storageA, storageB, keep) = try kind.makeShared()
        defer { withExtendedLifetime(keep) {} }
        let key = try makeTestKey(seed: 1)
        let vaultA = try open(storageA, key)
        let vaultB = try open(storageB, key)
        try vaultA.replaceTokenState(for: "tv", expectedVersion: nil, with: TokenState(accessToken: "count-0"))
        let workers = 6, increments = 5
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                let vault = worker % 2 == 0 ? vaultA : vaultB
                group.addTask {
                    var done = 0
                    while done < increments {
                        let current = try #require(try vault.tokenState(for: "tv"))
                        let count = Int(current.state.accessToken.dropFirst("count-".count))!
                        do {
                            try vault.replaceTokenState(
                                for: "tv", expectedVersion: current.version,
                                with: TokenState(accessToken: "count-\(count + 1)"))
                            done += 1
                        } catch let error as SecretsError where error.kind == .tokenStateConflict {
                            await Task.yield()  // lost the race: re-read and retry
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try #require(try vaultA.tokenState(for: "tv"))
        #expect(final.state.accessToken == "count-\(workers * increments)")
        #expect(final.version == Int64(workers * increments + 1))
    }

    @Test("values read are registered with the redactor", arguments: StorageKind.allCases)
    func redactorRegistration(kind: StorageKind) throws {
        let (storage, keep) = try kind.make()
        defer { withExtendedLifetime(keep) {} }
        let redactor = Redactor()
        let vault = try open(storage, try makeTestKey(seed: 1), redactor: redactor)
        try vault.set("a", to: "super-secret-value")
        try vault.replaceTokenState(for: "ts", expectedVersion: nil, with: TokenState(accessToken: "access-abc", refreshToken: "refresh-xyz"))
        _ = try vault.get("a")
        _ = try vault.tokenState(for: "ts")
        #expect(redactor.redact("got super-secret-value, access-abc and refresh-xyz") == "got ‹redacted›, ‹redacted› and ‹redacted›")
    }
}

@Suite("SQLite vault storage")
struct SQLiteVaultStorageTests {
    @Test("the migration creates vault_header and vault_secret; the file holds no plaintext")
    func schemaAndFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("db.sqlite")
        let pool = try StorageKind.openPool(path)
        let tables = try pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        #expect(tables.contains("vault_header") && tables.contains("vault_secret"))
        let applied = try pool.read { db in try DatabaseMigrator().appliedIdentifiers(db) }
        #expect(applied.contains(SQLiteVaultStorage.migrationName))

        let vault = try Vault.open(storage: SQLiteVaultStorage(writer: pool), key: try makeTestKey(seed: 9))
        let canary = "sqlite-plaintext-canary-0123456789"
        try vault.set("canary", to: canary)
        try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.range(of: Data(canary.utf8)) == nil)
        #expect(bytes.range(of: Data("canary".utf8)) != nil)  // the name is stored, in clear
    }

    @Test("a failed write transaction rolls back")
    func rollback() throws {
        let dir = try TemporaryDirectory()
        let storage = SQLiteVaultStorage(writer: try StorageKind.openPool(dir.path("db.sqlite")))
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try storage.write { transaction in
                try transaction.upsert(VaultRecord(name: "x", sealed: Data([1, 2, 3]), version: 1, updatedAt: fixedNow))
                throw Boom()
            }
        }
        #expect(try storage.read { try $0.record(named: "x") } == nil)
    }
}

@Suite("In-memory vault storage")
struct InMemoryVaultStorageTests {
    @Test("a failed write transaction rolls back; reads cannot write")
    func rollback() throws {
        let storage = InMemoryVaultStorage()
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try storage.write { transaction in
                try transaction.upsert(VaultRecord(name: "x", sealed: Data([1, 2, 3]), version: 1, updatedAt: fixedNow))
                throw Boom()
            }
        }
        #expect(try storage.read { try $0.record(named: "x") } == nil)
        #expect(throws: SecretsError.self) {
            try storage.read { try $0.upsert(VaultRecord(name: "x", sealed: Data(), version: 1, updatedAt: fixedNow)) }
        }
    }
}
