import Foundation
import Jobs
import Scheduler
import Testing

/// The option tables of `docs/configuration.md` are the descriptors': a kind's option missing
/// there, or documented with another default, fails here. `SCHEDCTL_UPDATE_DOCS=1 swift test
/// --filter OptionDocsTests` rewrites the tables from the descriptors.
@Suite("docs/configuration.md follows the descriptors")
struct OptionDocsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("every kind documents each option once, and the file's table is the descriptor's")
    func tablesMatchTheDescriptors() throws {
        let path = Self.root.appendingPathComponent("docs/configuration.md").path
        var text = try String(contentsOfFile: path, encoding: .utf8)
        let update = ProcessInfo.processInfo.environment["SCHEDCTL_UPDATE_DOCS"] == "1"
        for kind in JobsRegistry.standard.kinds where !kind.options.isEmpty {
            #expect(kind.docProblems == [])
            let begin = "<!-- options: \(kind.name) -->\n"
            let end = "\n<!-- /options -->"
            guard let open = text.range(of: begin), let close = text.range(of: end, range: open.upperBound..<text.endIndex) else {
                Issue.record("docs/configuration.md has no '\(begin)' … '\(end)' block for \(kind.name)")
                continue
            }
            if update {
                text.replaceSubrange(open.upperBound..<close.lowerBound, with: kind.optionTable)
            } else {
                #expect(
                    String(text[open.upperBound..<close.lowerBound]) == kind.optionTable,
                    "docs/configuration.md's table of \(kind.name) is not its descriptor's; run SCHEDCTL_UPDATE_DOCS=1 swift test --filter OptionDocsTests")
            }
        }
        if update { try text.write(toFile: path, atomically: true, encoding: .utf8) }
    }

    @Test("an undocumented option, or a line for an option that does not exist, is a problem")
    func missingAndStaleDocsAreProblems() {
        #expect(
            StampJob.descriptor.docProblems.sorted() == [
                "stamp: option 'path' is not documented", "stamp: option 'text' is not documented", "stamp: option 'times' is not documented",
            ])
        let stale = JobKindDescriptor(docs: [
            OptionDoc("path", "the file"), OptionDoc("text", "a line"), OptionDoc("times", default: "1", "how often"), OptionDoc("color", "no such key"),
        ]) { _ in StampJob() }
        #expect(stale.docProblems == ["stamp: 'color' is documented but is no option"])
        #expect(stale.optionTable.contains("| `times` | how often | `1` |"))
        #expect(stale.optionTable.contains("| `path` | the file | required |"))
    }

    @Test("a key required inside an optional mapping is documented as required only with that mapping")
    func requiredInsideAnOptionalMapping() {
        let table = FuturesSessionJob.descriptor.optionTable
        #expect(table.contains("| `strategy.command` | the strategy process (none: risk-only) | required when `strategy` is set |"))
        #expect(
            table.contains(
                "| `risk.daily_loss_limit` | realized plus open loss (dollars) that liquidates and locks the job until the next CME trade date | required |"))
        #expect(table.contains("| `broker` | the Tradovate broker (another type is a configuration error) | required |"))
    }
}
