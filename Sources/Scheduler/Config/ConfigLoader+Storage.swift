import Foundation

/// `database` and `secrets`: the settings the vault commands read on their own.
extension ConfigReader {
    /// `database` and `secrets` from the top-level mapping.
    func storageSettings(_ top: [Field]) -> StorageSettings {
        var database = "state/schedctl.sqlite"
        if let node = lookup(top, "database")?.value, let text = string(node, "database") { database = text }
        if !database.hasPrefix("/") && database != ":memory:" { database = (baseDirectory as NSString).appendingPathComponent(database) }
        var secrets = SecretsSettings()
        if let node = lookup(top, "secrets")?.value, let entries = mapping(node, "secrets") {
            checkKeys(entries, allowed: ["ssh_key"], "secrets")
            if let key = lookup(entries, "ssh_key") { secrets.sshKey = string(key.value, "secrets.ssh_key") }
        }
        return StorageSettings(database: database, secrets: secrets)
    }

    /// Only `database` and `secrets`; every other section is left unread.
    func readStorage(_ text: String) -> StorageSettings? {
        guard let top = readTop(text) else { return nil }
        return storageSettings(top)
    }
}
