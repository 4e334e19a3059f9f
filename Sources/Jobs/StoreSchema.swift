public import Scheduler

/// The parts of the database schema that modules other than Scheduler own (the vault, the paper
/// broker's ledger). Every opener of the database registers all of them, or the store refuses a
/// database that carries migrations it does not know.
public enum StoreSchema {
    /// Migrations to register with `Store(path:extraMigrations:)`.
    public static let extensions: [Store.MigrationRegistration] = [
        VaultAccess.migrations, BrokerFactory.migrations, SessionControl.migrations, NotifyStore.migrations,
    ]

    /// Opens the database at `path` with every module's migrations.
    public static func open(path: String) throws -> Store {
        try Store(path: path, extraMigrations: extensions)
    }
}
