import Foundation
import Scheduler

/// `next --json` output, written byte by byte: the same text `JSONText.encode` gives for
/// `[{at, local, rule, zone}]` (pretty, sorted keys), without Foundation's per-row date and JSON
/// formatting, so 100,000 fire times print in a fraction of a second.
enum FireTimesJSON {
    static let rowStart = Array("  {\n    \"at\" : \"".utf8)
    static let localKey = Array("Z\",\n    \"local\" : \"".utf8)
    static let ruleKey = Array("\",\n    \"rule\" : ".utf8)
    static let zoneKey = Array(",\n    \"zone\" : ".utf8)
    static let rowEnd = Array("\n  },\n".utf8)
    static let lastRowEnd = Array("\n  }\n".utf8)

    static func render(_ instants: [Instant], schedule: Schedule, zone: ZoneRules) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(instants.count * 160 + 4)
        out.append(contentsOf: Array("[\n".utf8))
        var lastRule = ""
        var lastRuleBytes: [UInt8] = []
        let zoneBytes = quoted(zone.identifier)
        for (index, instant) in instants.enumerated() {
            let rule = schedule.explain(instant)
            if rule != lastRule {
                lastRule = rule
                lastRuleBytes = quoted(rule)
            }
            out.append(contentsOf: rowStart)
            let utc = LocalDateTime(localSeconds: instant.seconds)
            appendDateTime(utc, to: &out)
            out.append(contentsOf: localKey)
            let offset = zone.offset(at: instant)
            appendDateTime(LocalDateTime(localSeconds: instant.seconds + Int64(offset)), to: &out)
            out.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            let magnitude = abs(offset)
            appendDigits(magnitude / 3600, width: 2, to: &out)
            out.append(UInt8(ascii: ":"))
            appendDigits((magnitude % 3600) / 60, width: 2, to: &out)
            out.append(contentsOf: ruleKey)
            out.append(contentsOf: lastRuleBytes)
            out.append(contentsOf: zoneKey)
            out.append(contentsOf: zoneBytes)
            out.append(contentsOf: index == instants.count - 1 ? lastRowEnd : rowEnd)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// `YYYY-MM-DDTHH:MM:SS`.
    static func appendDateTime(_ value: LocalDateTime, to out: inout [UInt8]) {
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

    /// `value` in decimal, zero-padded to `width` (2 or 4) digits; wider values keep all their digits.
    static func appendDigits(_ value: Int, width: Int, to out: inout [UInt8]) {
        let zero = UInt8(ascii: "0")
        if value < 0 || value >= (width == 2 ? 100 : 10_000) {
            out.append(contentsOf: String(value).utf8)
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

    /// `text` as a JSON string, escaped as JSONEncoder escapes it (slashes left alone).
    static func quoted(_ text: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: Array("\\\"".utf8))
            case UInt8(ascii: "\\"): out.append(contentsOf: Array("\\\\".utf8))
            case 0x0A: out.append(contentsOf: Array("\\n".utf8))
            case 0x0D: out.append(contentsOf: Array("\\r".utf8))
            case 0x09: out.append(contentsOf: Array("\\t".utf8))
            case 0x08: out.append(contentsOf: Array("\\b".utf8))
            case 0x0C: out.append(contentsOf: Array("\\f".utf8))
            case 0..<0x20: out.append(contentsOf: Array(String(format: "\\u%04x", byte).utf8))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }
}
