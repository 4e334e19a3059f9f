import Foundation
import Scheduler

/// `next --json` output, written byte by byte: the same text `JSONText.encode` gives for
/// `[{at, local, rule, zone}]` (pretty, sorted keys), without Foundation's per-row date and JSON
/// formatting, so 100,000 fire times print in a fraction of a second. The text ends with the
/// newline `print` would add.
enum FireTimesJSON {
    static let rowStart = Array("  {\n    \"at\" : \"".utf8)
    static let localKey = Array("\",\n    \"local\" : \"".utf8)
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
        var zoneBytes: [UInt8] = []
        JSONBytes.appendString(zone.identifier, to: &zoneBytes)
        let summary = schedule.summary
        for (index, instant) in instants.enumerated() {
            let rule = schedule.explain(instant, summary: summary)
            if rule != lastRule {
                lastRule = rule
                lastRuleBytes.removeAll(keepingCapacity: true)
                JSONBytes.appendString(rule, to: &lastRuleBytes)
            }
            out.append(contentsOf: rowStart)
            ISO8601Bytes.appendUTC(instant, to: &out)
            out.append(contentsOf: localKey)
            ISO8601Bytes.append(instant, in: zone, to: &out)
            out.append(contentsOf: ruleKey)
            out.append(contentsOf: lastRuleBytes)
            out.append(contentsOf: zoneKey)
            out.append(contentsOf: zoneBytes)
            out.append(contentsOf: index == instants.count - 1 ? lastRowEnd : rowEnd)
        }
        out.append(contentsOf: [UInt8(ascii: "]"), 0x0A])
        return out
    }
}

/// Standard output as raw bytes.
enum StandardOutput {
    /// Writes `bytes` to standard output in one buffer (after anything `print` left in stdio's
    /// buffer), retrying short and interrupted writes.
    static func write(_ bytes: [UInt8]) throws {
        fflush(nil)
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw CommandFailure(message: "cannot write to standard output: \(String(cString: strerror(errno)))", code: 74)
                }
                offset += written
            }
        }
    }
}
