import Foundation
public import Logging
import Synchronization

/// A swift-log handler that writes one line per message to standard error, as logfmt
/// (`ts=… level=info msg="run started" job=heartbeat`) or JSON, passing every field through a
/// redaction function before it is escaped, so resolved secrets never reach the log (escaping
/// first would turn a secret containing `"` or `\` into text the redactor no longer recognises).
public struct LineLogHandler: LogHandler {
    /// `logfmt` or `json`.
    public enum Format: String, Sendable { case logfmt, json }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let format: Format
    let redact: @Sendable (String) -> String
    let sink: @Sendable (String) -> Void

    /// A handler; `sink` defaults to standard error.
    public init(
        label: String, format: Format, level: Logger.Level = .info, redact: @escaping @Sendable (String) -> String = { $0 },
        sink: @escaping @Sendable (String) -> Void = LineLogHandler.standardError
    ) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.redact = redact
        self.sink = sink
    }

    private static let lock = Mutex(())

    /// Writes a line to standard error atomically.
    public static let standardError: @Sendable (String) -> Void = { line in
        lock.withLock { _ in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = [("ts", LineLogHandler.timestamp()), ("level", event.level.rawValue), ("msg", redact(event.message.description))]
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for key in merged.keys.sorted() { fields.append((key, redact("\(merged[key]!)"))) }
        let line: String
        switch format {
        case .logfmt:
            line = fields.map { "\($0.0)=\(LineLogHandler.logfmtValue($0.1))" }.joined(separator: " ")
        case .json:
            line = "{" + fields.map { "\"\($0.0)\":\(LineLogHandler.jsonString($0.1))" }.joined(separator: ",") + "}"
        }
        sink(line)
    }

    static func timestamp() -> String {
        let now = Date().timeIntervalSince1970
        let whole = Int64(now.rounded(.down))
        let millis = Int((now - Double(whole)) * 1000)
        return String(Instant(seconds: whole).iso8601.dropLast()) + "." + String(format: "%03d", millis) + "Z"
    }

    static func logfmtValue(_ value: String) -> String {
        if !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) { return value }
        return jsonString(value)
    }

    static func jsonString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
