import Jobs
import Scheduler

/// The composition root: which kinds, catalogs and stores this executable uses.
enum Wiring {
    /// Every job kind this build knows.
    static let registry = StandardKinds.registry

    /// The configuration loader for this build.
    static let loader = ConfigLoader(catalog: StandardCatalog.catalog(kinds: registry))

    /// Loads and validates `path`, or fails with every diagnostic.
    static func loadPlan(_ path: String) throws -> Plan {
        do {
            return try loader.load(file: path)
        } catch {
            throw CommandFailure(message: "invalid configuration\n" + error.description)
        }
    }
}
