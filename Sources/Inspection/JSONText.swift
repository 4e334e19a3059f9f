public import Foundation
import Scheduler

/// The one JSON encoder of `--json` output and the status endpoint's `/api`: stable, pretty,
/// sorted keys, slashes unescaped.
public enum JSONText {
    /// `value` as JSON text.
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try data(value), as: UTF8.self)
    }

    /// `value` as JSON bytes (what `encode` returns, as UTF-8).
    public static func data<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(value)
    }
}

/// ISO 8601 UTC with milliseconds for recorded times.
public enum Timestamps {
    /// `seconds` since the epoch as `2026-12-07T03:41:38.120Z`.
    public static func iso(_ seconds: Double) -> String {
        let whole = Int64(seconds.rounded(.down))
        // The milliseconds padded by hand: `String(format:)` cost more than the rest of a status
        // row (four stamps per job on `/`).
        let millis = Int((seconds - Double(whole)) * 1000)
        let padding = millis < 10 ? "00" : (millis < 100 ? "0" : "")
        return String(Instant(seconds: whole).iso8601.dropLast()) + "." + padding + String(millis) + "Z"
    }
}
