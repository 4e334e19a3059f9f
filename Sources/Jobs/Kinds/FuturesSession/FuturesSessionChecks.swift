import Foundation
public import Scheduler

extension FuturesSessionSettings {
    /// `validate`'s check of a futures-session job: a Tradovate broker, a duration `stop` within
    /// one CME trade date, contract symbols listed once and a positive loss limit (what a run would
    /// otherwise only find when it starts, or get wrong).
    public static let check: JobOptionCheck = { options, brokers, _ in
        var problems: [OptionProblem] = []
        if let name = options["broker"]?.stringValue, let broker = brokers[name], !BrokerTypes.type(broker.type, has: .futuresSession) {
            let types = BrokerTypes.named(with: .futuresSession).joined(separator: " or ")
            problems.append(.init(key: "broker", message: "broker '\(name)' is a \(broker.type) broker; a futures session needs a \(types) broker"))
        }
        if case .duration(let length)? = options["stop"], length > maximumLength {
            problems.append(
                .init(
                    key: "stop",
                    message:
                        "a session of \(DurationText.format(length)) outlasts a CME trade date: a session runs within one trade date (at most 23h, "
                        + "17:00 to 16:00 CT) and its loss limit and lock count by trade date; use a duration up to 23h or "
                        + "stop: { market: CME, at: close, offset: -10m }, and schedule a run each trade date"))
        }
        if let symbols = options["symbols"]?.listValue {
            let names = symbols.compactMap(\.stringValue)
            if symbols.isEmpty {
                problems.append(.init(key: "symbols", message: "the list is empty; name the contracts traded, e.g. symbols: [MESZ6]"))
            } else if let bad = names.first(where: { $0.isEmpty || !$0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }) {
                problems.append(.init(key: "symbols", message: "'\(bad)' is not a contract name; write it like MESZ6 (letters and digits)"))
            } else if let twice = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
                problems.append(.init(key: "symbols", message: "'\(twice)' is listed twice; name each contract once"))
            }
        }
        if let limit = options["risk"]?.mapValue?["daily_loss_limit"]?.numberValue, limit <= 0 {
            problems.append(
                .init(
                    key: "risk.daily_loss_limit",
                    message: "must be a positive amount in dollars (the loss that liquidates and locks the session), e.g. 500; found \(limit)"))
        }
        if let stale = options["risk"]?.mapValue?["stale_after"]?.durationValue, stale <= .zero {
            problems.append(
                .init(
                    key: "risk.stale_after",
                    message: "must be a positive duration (how long a held contract may go without a quote), e.g. 10s; found \(DurationText.format(stale))"))
        }
        return problems
    }
}

extension FuturesSessionSettings {
    /// The longest duration `stop` a session accepts: the longest CME trade-date session (17:00
    /// to 16:00 CT). The session keeps the trade date it opened on, for its daily loss and lock.
    public static let maximumLength: Duration = .seconds(23 * 3600)
}
