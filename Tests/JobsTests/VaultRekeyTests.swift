import Foundation
import Jobs
import SchedctlTesting
import Scheduler
import Secrets
import SecretsSQLite
import Testing

/// `secrets rekey` leaves nothing sealed under the old key in the database file, its free pages
/// or its write-ahead log.
@Suite("Vault rekey on disk")
struct VaultRekeyTests {
    func keygen(_ path: String) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = ["-q", "-t", "ed25519", "-N", "", "-f", path]
        try process.run()
        try await exited(process)
        try #require(process.terminationStatus == 0, "ssh-keygen is needed (apt-get install openssh-client)")
    }

    @Test func rekeyLeavesNoOldCiphertextInFreePagesOrTheWAL() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-rekey")
        try await keygen(directory.file("a"))
        try await keygen(directory.file("b"))
        let keyA = try VaultAccess.loadKey(explicitPath: directory.file("a"), configured: nil, environment: [:]).key
        let keyB = try VaultAccess.loadKey(explicitPath: directory.file("b"), configured: nil, environment: [:]).key
        let path = directory.file("state.sqlite")
        let store = try StoreSchema.open(path: path)
        let vault = try VaultAccess.open(store: store, key: keyA, create: true)
        for n in 0..<40 { try vault.set("broker/secret-\(n)", to: String(repeating: "value-\(n)-", count: 40)) }
        try vault.set("broker/token", to: "first-token-value")
        try vault.set("broker/token", to: "second-token-value")
        let storage = SQLiteVaultStorage(writer: store.writer)
        let old = try storage.read { try $0.allRecords().map(\.sealed) }
        #expect(old.count == 41)

        let rekeyed = try VaultAccess.rekey(vault, store: store, to: keyB)
        #expect(try rekeyed.require("broker/token").value == "second-token-value")
        var files: [String: Data] = [:]
        for suffix in ["", "-wal"] { files[suffix] = FileManager.default.contents(atPath: path + suffix) ?? Data() }
        let survivors = old.filter { sealed in files.values.contains { $0.range(of: sealed) != nil } }
        #expect(survivors.isEmpty, "\(survivors.count) of \(old.count) values sealed under the old key are still on disk")
    }
}
