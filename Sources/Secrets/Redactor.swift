import Foundation
import Synchronization

/// Removes known secret values from text before it is logged, stored or shown.
///
/// Every secret value resolved at run time is registered; `redact` replaces each occurrence
/// (longest first, so a value containing another is removed whole) with `‹redacted›`. Matching
/// is on the UTF-8 bytes, not on characters, so a combining mark after a secret does not hide it.
/// Values shorter than ``minimumLength`` characters are replaced only where they stand as a
/// whole value (no letter or digit right before or after): replacing "ok" inside every word
/// helps nobody, but `pin=123` still becomes `pin=‹redacted›`.
///
/// ```swift
/// let redactor = Redactor()
/// redactor.register(token.value)
/// logger.info("\(redactor.redact(responseBody))")
/// ```
public final class Redactor: Sendable {
    /// Values shorter than this are redacted only as whole values.
    public static let minimumLength = 4

    private let values = Mutex<Set<String>>([])

    public init() {}

    /// Registers a value to redact from now on (a single character is ignored).
    public func register(_ value: String) {
        guard value.count >= 2 else { return }
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
        guard !sorted.isEmpty else { return text }
        var bytes = Array(text.utf8)
        let placeholder = Array(redactedPlaceholder.utf8)
        for value in sorted {
            let needle = Array(value.utf8)
            let wholeOnly = value.count < Self.minimumLength
            bytes = Self.replace(needle, in: bytes, with: placeholder, wholeOnly: wholeOnly)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `haystack` with each occurrence of `needle` replaced; with `wholeOnly`, only occurrences
    /// without an ASCII letter or digit (or any non-ASCII byte) on either side.
    static func replace(_ needle: [UInt8], in haystack: [UInt8], with replacement: [UInt8], wholeOnly: Bool) -> [UInt8] {
        guard let first = needle.first, haystack.count >= needle.count else { return haystack }
        func isWord(_ b: UInt8) -> Bool { b >= 0x80 || (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
        var result: [UInt8] = []
        result.reserveCapacity(haystack.count)
        var i = 0
        var changed = false
        while i < haystack.count {
            if haystack[i] == first, i + needle.count <= haystack.count, haystack[i..<(i + needle.count)].elementsEqual(needle),
                !wholeOnly || ((i == 0 || !isWord(haystack[i - 1])) && (i + needle.count == haystack.count || !isWord(haystack[i + needle.count])))
            {
                result.append(contentsOf: replacement)
                i += needle.count
                changed = true
            } else {
                result.append(haystack[i])
                i += 1
            }
        }
        return changed ? result : haystack
    }
}
