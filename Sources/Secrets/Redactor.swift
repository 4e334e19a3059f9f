import Foundation
import Synchronization

/// Removes known secret values from text before it is logged, stored or shown.
///
/// Every secret value resolved at run time is registered; `redact` replaces each occurrence
/// (longest first, so a value containing another is removed whole) with `‹redacted›`. Values
/// shorter than ``minimumLength`` characters are ignored: replacing "ok" everywhere helps nobody.
///
/// ```swift
/// let redactor = Redactor()
/// redactor.register(token.value)
/// logger.info("\(redactor.redact(responseBody))")
/// ```
public final class Redactor: Sendable {
    /// Values shorter than this are not registered.
    public static let minimumLength = 4

    private let values = Mutex<Set<String>>([])

    public init() {}

    /// Registers a value to redact from now on.
    public func register(_ value: String) {
        guard value.count >= Self.minimumLength else { return }
        values.withLock { _ = $0.insert(value) }
    }

    /// Registers a wrapped secret.
    public func register(_ secret: Secret<String>) { register(secret.value) }

    /// How many values are registered.
    public var count: Int { values.withLock { $0.count } }

    /// `text` with every registered value replaced by `‹redacted›`.
    public func redact(_ text: String) -> String {
        let sorted = values.withLock { set in
            set.sorted { $0.utf8.count != $1.utf8.count ? $0.utf8.count > $1.utf8.count : $0 < $1 }
        }
        var result = text
        for value in sorted where result.contains(value) {
            result = result.replacingOccurrences(of: value, with: redactedPlaceholder)
        }
        return result
    }
}
