import Foundation

/// Waits a server asks for (`Retry-After`, Tradovate's `p-time`), read defensively: a value that
/// is not a plain non-negative number of seconds (or an HTTP date) is ignored, and no wait is
/// ever longer than ``maximum`` — a longer request fails the call instead of parking a run.
enum ServerWait {
    /// The longest wait honoured in-process, in seconds.
    static let maximum: Double = 120

    /// Seconds from a `Retry-After` header: delta-seconds (digits, a decimal fraction tolerated)
    /// or an HTTP date; nil when absent or anything else (`1e300`, `-5`, `inf`, garbage).
    static func retryAfter(_ header: String?, now: Date = Date()) -> Double? {
        guard let text = header?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), text.first != ".", text.filter({ $0 == "." }).count <= 1 {
            guard let value = Double(text), value.isFinite else { return nil }
            return value
        }
        guard let date = httpDate.withLock({ $0.date(from: text) }) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// Seconds from a JSON number (`p-time`): finite and non-negative, else nil.
    static func seconds(_ value: Double?) -> Double? {
        guard let value, value.isFinite, value >= 0 else { return nil }
        return value
    }

    /// Whether `seconds` may be waited in-process.
    static func isAcceptable(_ seconds: Double) -> Bool { seconds.isFinite && seconds >= 0 && seconds <= maximum }

    private static let httpDate: LockedFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return LockedFormatter(formatter)
    }()
}

/// A date formatter behind a lock (DateFormatter is not thread-safe).
final class LockedFormatter: @unchecked Sendable {  // every use goes through `lock`
    private let formatter: DateFormatter
    private let lock = NSLock()

    init(_ formatter: DateFormatter) { self.formatter = formatter }

    func withLock<T>(_ body: (DateFormatter) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(formatter)
    }
}
