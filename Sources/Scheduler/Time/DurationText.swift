import Foundation

/// Reads and writes durations such as `15m`, `1h30m`, `-5m`, `90s`, `2d`, `500ms`.
public enum DurationText {
    /// Parses a duration; units `ms`, `s`, `m`, `h`, `d`, combined largest first, optional sign.
    /// Values that would overflow are not durations.
    public static func parse(_ text: String) -> Duration? {
        let bytes = Array(ASCIIText.trimmed(Substring(text)).utf8)
        var index = 0
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        guard index < bytes.count else { return nil }
        var totalMilliseconds: Int64 = 0
        var lastRank = Int.max
        while index < bytes.count {
            var value: Int64 = 0
            let digitsStart = index
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                let (times, overflowA) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflowB) = times.addingReportingOverflow(Int64(bytes[index] - 48))
                guard !overflowA, !overflowB else { return nil }
                value = sum
                index += 1
            }
            guard index > digitsStart, index < bytes.count else { return nil }
            let rank: Int
            let scale: Int64
            switch bytes[index] {
            case UInt8(ascii: "d"): (rank, scale) = (5, 86_400_000)
            case UInt8(ascii: "h"): (rank, scale) = (4, 3_600_000)
            case UInt8(ascii: "s"): (rank, scale) = (2, 1000)
            case UInt8(ascii: "m"):
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "s") {
                    (rank, scale) = (1, 1)
                    index += 1
                } else {
                    (rank, scale) = (3, 60_000)
                }
            default: return nil
            }
            index += 1
            if index < bytes.count, bytes[index] >= UInt8(ascii: "a"), bytes[index] <= UInt8(ascii: "z") { return nil }
            guard rank < lastRank else { return nil }
            lastRank = rank
            let (part, overflowC) = value.multipliedReportingOverflow(by: scale)
            let (sum, overflowD) = totalMilliseconds.addingReportingOverflow(part)
            guard !overflowC, !overflowD else { return nil }
            totalMilliseconds = sum
        }
        let duration = Duration.milliseconds(totalMilliseconds)
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
