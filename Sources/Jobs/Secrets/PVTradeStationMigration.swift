public import Secrets

/// The `jobs.yaml` a pv-tradestation user needs to move over: the `tradestation` broker, a
/// `pennyvault` strategy for the synced portfolio and a `rebalance` job joining them, all
/// referring to the secrets `schedctl secrets import-pv-tradestation` stores.
public enum PVTradeStationMigration {
    /// The strategy's name in the fragment.
    public static let strategyName = "pennyvault"
    /// The broker's name in the fragment.
    public static let brokerName = "tradestation"
    /// The job's name in the fragment.
    public static let jobName = "rebalance"

    /// A fragment to merge into `jobs.yaml`. `mode` is pv-tradestation's `mode`: `live` selects
    /// the live environment, anything else `sim`, as the Go code did. The job starts as a dry run.
    public static func jobsFragment(mode: String?, sync: PVTradeStationSync) -> String {
        let live = mode == "live"
        let account = quoted(sync.accountID)
        var lines = [
            "# jobs.yaml fragment from pv-tradestation (\(sync.path)); merge it into your jobs.yaml.",
            "strategies:",
            "  \(strategyName):",
            "    type: pennyvault",
            "    portfolio: \(quoted(sync.portfolioID))",
            "    # Penny Vault v3 needs an Auth0 token; the imported X-Pv-Api key does not authenticate there:",
            "    # replace it with `schedctl secrets set \(PVTradeStationImport.pennyVaultTokenName)`.",
            "    token: secret:\(PVTradeStationImport.pennyVaultTokenName)",
            "brokers:",
            "  \(brokerName):",
            "    type: tradestation",
            "    environment: \(live ? "live" : "sim")",
            "    account: \(account)",
            "    client_id: secret:\(PVTradeStationImport.clientIDName)",
            "    client_secret: secret:\(PVTradeStationImport.clientSecretName)",
            "jobs:",
            "  \(jobName):",
            "    type: rebalance",
            "    broker: \(brokerName)",
            "    strategy: \(strategyName)",
            "    schedule: { market: XNYS, at: open, offset: 5m, days: strategy }",
            "    account: \(account)",
            "    dry_run: true        # check a few runs (`schedctl show RUN`), then set false",
            "    cash_buffer: 1%",
            "    min_trade: 100",
            "    drift: 0.5%",
        ]
        if live {
            lines.append("    # max_notional: the most one run may trade; required for environment: live — set your own")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A YAML double-quoted scalar.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
