import GRDB

extension Database {
    /// A compiled statement from the connection's cache: the engine's hot paths run the same few
    /// statements thousands of times a second, so compiling them once matters.
    func cached(_ sql: String) throws -> Statement { try cachedStatement(sql: sql) }

    /// Executes `sql` through the statement cache.
    func execute(cached sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
