import Foundation
import Logging
import Scheduler
import Synchronization
import Testing

@Suite("log lines redact before escaping")
struct LogRedactionTests {
    /// A secret that escaping changes: quotes, a backslash and a newline.
    static let secret = "pa\"ss\\wo\nrd-9f3K"

    @Test(arguments: [LineLogHandler.Format.logfmt, .json])
    func secretsThatEscapingChangesAreStillRedacted(format: LineLogHandler.Format) {
        let lines = Mutex<[String]>([])
        let handler = LineLogHandler(
            label: "test", format: format, level: .info,
            redact: { $0.replacingOccurrences(of: LogRedactionTests.secret, with: "‹redacted›") },
            sink: { line in lines.withLock { $0.append(line) } })
        let logger = Logger(label: "test") { _ in handler }
        logger.info("token \(Self.secret) refused", metadata: ["body": "{\"password\":\"\(Self.secret)\"}", "plain": "\(Self.secret)"])
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let line = written.joined()
        let escaped = "pa\\\"ss\\\\wo\\nrd-9f3K"
        #expect(!line.contains(Self.secret))
        #expect(!line.contains(escaped))
        #expect(!line.contains("9f3K"))
        #expect(line.components(separatedBy: "‹redacted›").count == 4, "\(line)")
    }
}
