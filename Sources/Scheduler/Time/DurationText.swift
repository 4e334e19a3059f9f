import Foundation

/// Reads and writes durations such as `15m`, `1h30m`, `-5m`, `90s`, `2d`, `500ms`.
public enum DurationText {
    /// Parses a duration; units `ms`, `s`, `m`, `h`, `d`, combined largest first, optional sign.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        guard !rest.isEmpty else { return nil }
        // Summed in whole milliseconds with overflow checks: a huge value is not a duration (and
        // must not trap, as Duration's own arithmetic does).
        var total: Int64 = 0
        var lastRank = Int.max
        while !rest.isEmpty {
            let digits = rest.prefix(while: \.isNumber)
            guard !digits.isEmpty, let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix(while: \.isLetter)
            rest = rest.dropFirst(unit.count)
            let (rank, milliseconds): (Int, Int64)
            switch unit {
            case "d": (rank, milliseconds) = (5, 86_400_000)
            case "h": (rank, milliseconds) = (4, 3_600_000)
            case "m": (rank, milliseconds) = (3, 60_000)
            case "s": (rank, milliseconds) = (2, 1000)
            case "ms": (rank, milliseconds) = (1, 1)
            default: return nil
            }
            guard rank < lastRank else { return nil }
            lastRank = rank
            let (scaled, overflow) = value.multipliedReportingOverflow(by: milliseconds)
            let (sum, carry) = total.addingReportingOverflow(scaled)
            guard !overflow, !carry else { return nil }
            total = sum
        }
        let duration = Duration.milliseconds(total)
        return negative ? .zero - duration : duration
    }

    /// Formats whole seconds compactly: `1h30m`, `15m`, `45s`, `0s`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if seconds == 0 && attoseconds != 0 { return "\(attoseconds / 1_000_000_000_000_000)ms" }
        var rest = abs(seconds)
        var text = seconds < 0 ? "-" : ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text == "" || text == "-" ? "0s" : text
    }
}
