/// What is waiting to be written to a strategy's stdin: lines in order, with quotes coalesced per
/// symbol (a newer quote replaces the pending one in its place) and a bound on everything else.
/// Pure: the writer thread of ``StrategyProcess`` drains it; a table test drives it.
struct StrategyOutbox: Sendable {
    /// What `append` did with a line.
    enum Admission: Sendable, Equatable {
        /// Queued at the end.
        case queued
        /// Replaced the pending quote of its symbol (nothing grew).
        case coalesced
        /// Refused: `limit` lines are already waiting; the strategy does not keep up.
        case overflow
        /// Refused: the strategy's stdin is closed (it exited or was ended).
        case closed
    }

    private enum Slot: Sendable {
        case line(String)
        case quote(String)
    }

    /// The most lines that may wait (quotes count once per symbol).
    let limit: Int
    private var slots: [Slot] = []
    private var quotes: [String: String] = [:]

    init(limit: Int) { self.limit = max(1, limit) }

    /// Lines waiting.
    var count: Int { slots.count }

    /// Queues `line`; a quote (`symbol` set) replaces the quote of that symbol still waiting.
    mutating func append(_ line: String, quoteOf symbol: String? = nil) -> Admission {
        if let symbol, quotes[symbol] != nil {
            quotes[symbol] = line
            return .coalesced
        }
        guard slots.count < limit else { return .overflow }
        if let symbol {
            quotes[symbol] = line
            slots.append(.quote(symbol))
        } else {
            slots.append(.line(line))
        }
        return .queued
    }

    /// Takes every waiting line, oldest first.
    mutating func drain() -> [String] {
        let lines = slots.compactMap { slot -> String? in
            switch slot {
            case .line(let text): return text
            case .quote(let symbol): return quotes[symbol]
            }
        }
        slots.removeAll()
        quotes.removeAll()
        return lines
    }
}
