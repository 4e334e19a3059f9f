import Foundation

/// pv-tradestation's `sync.toml`, the rebalance input: which Penny Vault portfolio drives which
/// TradeStation account. Keys are matched without regard to case, as the Go code did.
///
/// ```swift
/// let sync = try PVTradeStationSync.load(path: "sync.toml", environment: [:])
/// print(sync.portfolioID, sync.accountID)
/// ```
public struct PVTradeStationSync: Sendable, Equatable {
    /// The file read.
    public let path: String
    /// `PortfolioID`: the Penny Vault portfolio.
    public let portfolioID: String
    /// `AccountID`: the TradeStation account.
    public let accountID: String
    /// `NextTradeDate` as written (a TOML date or datetime), if set.
    public let nextTradeDate: String?

    /// Reads `path` (`~` expanded with `HOME`).
    public static func load(path: String, environment: [String: String]) throws(SecretsError) -> PVTradeStationSync {
        let expanded = SSHKeyLocation.expandTilde(path, home: environment["HOME"])
        guard let data = FileManager.default.contents(atPath: expanded), let text = String(data: data, encoding: .utf8) else {
            throw .invalidConfiguration(expanded, "cannot read the file", fix: "give the path of pv-tradestation's sync.toml")
        }
        let table: [String: TOMLReader.Value]
        do {
            table = try TOMLReader.parse(text)
        } catch {
            throw .invalidConfiguration("\(expanded):\(error.line)", error.message, fix: "fix the TOML syntax")
        }
        func value(_ key: String) -> String? {
            guard let entry = table.first(where: { $0.key.lowercased() == key.lowercased() })?.value else { return nil }
            switch entry {
            case .string(let s): return s.isEmpty ? nil : s
            case .raw(let r): return r
            }
        }
        guard let portfolio = value("PortfolioID") else {
            throw .invalidConfiguration(expanded, "no PortfolioID", fix: "give the sync.toml pv-tradestation used (PortfolioID = \"…\")")
        }
        guard let account = value("AccountID") else {
            throw .invalidConfiguration(expanded, "no AccountID", fix: "give the sync.toml pv-tradestation used (AccountID = \"…\")")
        }
        return PVTradeStationSync(path: expanded, portfolioID: portfolio, accountID: account, nextTradeDate: value("NextTradeDate"))
    }
}
