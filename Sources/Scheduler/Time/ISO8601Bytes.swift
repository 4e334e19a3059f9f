/// ISO 8601 text appended straight to a byte buffer: the same text as ``Instant/iso8601`` and
/// ``Instant/iso8601(in:)``, without a `String` or a Foundation formatter per instant (for
/// outputs with many instants, such as `schedctl next --json`).
///
/// ```swift
/// var out: [UInt8] = []
/// ISO8601Bytes.append(instant, in: .newYork, to: &out)  // 2026-11-27T09:35:00-05:00
/// ```
public enum ISO8601Bytes {
    /// Appends `instant` in UTC: `2026-11-27T14:35:00Z`.
    public static func appendUTC(_ instant: Instant, to out: inout [UInt8]) {
        appendLocal(LocalDateTime(localSeconds: instant.seconds), to: &out)
        out.append(UInt8(ascii: "Z"))
    }

    /// Appends `instant` on the wall clock of `zone` with its UTC offset there:
    /// `2026-11-27T09:35:00-05:00` (`+00:00` for a zero offset).
    public static func append(_ instant: Instant, in zone: ZoneRules, to out: inout [UInt8]) {
        let offset = zone.offset(at: instant)
        appendLocal(LocalDateTime(localSeconds: instant.seconds + Int64(offset)), to: &out)
        out.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        let magnitude = abs(offset)
        appendDigits(magnitude / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits((magnitude % 3600) / 60, width: 2, to: &out)
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS`.
    public static func appendLocal(_ value: LocalDateTime, to out: inout [UInt8]) {
        appendDigits(value.date.year, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(value.date.month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(value.date.day, width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendDigits(value.hour, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(value.minute, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(value.second, width: 2, to: &out)
    }

    /// `value` as `LocalDate.pad(value, width)` writes it (`width` 2 or 4).
    static func appendDigits(_ value: Int, width: Int, to out: inout [UInt8]) {
        let zero = UInt8(ascii: "0")
        if value < 0 || value >= (width == 2 ? 100 : 10_000) {
            out.append(contentsOf: LocalDate.pad(value, width).utf8)
        } else if width == 2 {
            out.append(zero + UInt8(value / 10))
            out.append(zero + UInt8(value % 10))
        } else {
            out.append(zero + UInt8(value / 1000))
            out.append(zero + UInt8(value / 100 % 10))
            out.append(zero + UInt8(value / 10 % 10))
            out.append(zero + UInt8(value % 10))
        }
    }
}
