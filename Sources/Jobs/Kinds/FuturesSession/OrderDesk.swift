import Brokers
import Foundation

/// The session's order desk: every order write (a placement, a cancel, a liquidation) goes
/// through the intent journal, so a crash or a lost answer is reconciled before anything is sent
/// again, and an unknown placement is found by its `clOrdId`. The session decides what to send
/// (risk first); the desk only sends it, once.
struct OrderDesk: Sendable {
    let journal: IntentJournal<FuturesSessionState>
    let client: TradovateClient
    /// The broker's name in jobs.yaml (the journal's target).
    let broker: String
    /// The Tradovate account traded.
    let account: String

    /// Places `request` as journal step `step`. A step whose outcome was never recorded is first
    /// reconciled by its clOrdId (the socket's `known` commands, then REST `command/list`), so a
    /// replay never sends the same clOrdId twice. Returns the order id.
    func place(step: String, request: OrderRequest, what: String, known: [String: Int64]) async throws -> Int64 {
        let (client, account) = (self.client, self.account)
        return try await journal.perform(step: step, target: broker, what: what) { key in
            if let id = known[key] { return id }
            return try await client.orderID(clOrdID: key)
        } act: { _ in
            Int64(try await client.place(request, account: account).orderID) ?? 0
        }
    }

    /// Cancels order `id` through the intent journal (step `cancel/ID`, shared by the stop, the
    /// loss limit and strategy intents): a cancel whose answer was lost, or that a crash left
    /// unrecorded, is reconciled from the order's status at the broker before it is sent again.
    /// Returns the order's final status (`Canceled`, or e.g. `Filled` when it was too late).
    func cancel(orderID id: Int64) async throws -> String {
        let (client, account, working) = (self.client, self.account, SessionBook.workingStatuses)
        return try await journal.perform(step: "cancel/\(id)", target: broker, what: "cancel order \(id)") { _ in
            let current = try await client.order(id: String(id), account: account).brokerStatus
            return working.contains(current) ? nil : current
        } act: { _ in
            do {
                try await client.cancel(orderID: String(id), account: account)
                return "Canceled"
            } catch let error as BrokerError where error.isRejected {
                // Too late (filled, or cancelled already): the order is over either way.
                if let current = try? await client.order(id: String(id), account: account).brokerStatus, !working.contains(current) { return current }
                throw error
            }
        }
    }

    /// Liquidates one contract's position as journal step `step` (each flatten round has its own
    /// steps; the round after re-reads the broker's positions, so nothing is reconciled here).
    func liquidate(step: String, contractID: Int64, what: String) async throws {
        let (client, account) = (self.client, self.account)
        let _: String = try await journal.perform(step: step, target: broker, what: what) { _ in
            nil
        } act: { _ in
            try await client.liquidate(account: account, contractID: contractID)
        }
    }

    /// The order placed with `clOrdID`: from the socket's `known` commands, else REST
    /// `command/list`; nil when the broker has none (or REST fails).
    func find(clOrdID: String, known: [String: Int64]) async -> Int64? {
        if let id = known[clOrdID] { return id }
        return (try? await client.orderID(clOrdID: clOrdID)) ?? nil
    }

    /// The account's net positions by contract id, read over REST; nil when REST fails.
    func positions() async -> [Int64: Int]? {
        guard let list = try? await client.positionContracts(account: account) else { return nil }
        return Dictionary(list.map { ($0.contractID, $0.netPos) }, uniquingKeysWith: { $1 })
    }
}
