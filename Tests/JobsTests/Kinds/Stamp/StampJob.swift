import Foundation
import Jobs
import Scheduler

/// A job kind that exists only in the tests, to prove that a new kind is this one folder plus one
/// line in a registry (`JobsRegistry.withStamp`): it appends `text` to the file `path`.
struct StampJob: TypedJobKind {
    let name = "stamp"
    let options = [OptionSpec("path", .string, required: true), OptionSpec("text", .string), OptionSpec("times", .integer(1...10))]

    /// The options, parsed once at load.
    struct Options: JobOptions {
        var path: String
        var text: String
        var times: Int

        init(job: JobSpec) throws {
            guard let path = job.options["path"]?.stringValue else { throw JobFailure("no path", retryable: false) }
            self.path = path
            text = job.options["text"]?.stringValue ?? job.name
            times = job.options["times"]?.numberValue.map { NSDecimalNumber(decimal: $0).intValue } ?? 1
        }
    }

    /// The kind's descriptor: `--dry-run` is allowed (the capability), and `text` may not hold a
    /// newline (the check, reported at the key).
    static let descriptor = JobKindDescriptor(capabilities: [.dryRun], check: check) { _ in StampJob() }

    static let check: JobOptionCheck = { options, _, _ in
        guard let text = options["text"]?.stringValue, text.contains("\n") else { return [] }
        return [OptionProblem(key: "text", message: "one line only; remove the line break")]
    }

    func run(_ context: RunContext) async throws -> RunOutcome {
        let options = try context.job.options(as: Options.self)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: options.path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        for _ in 0..<options.times { try handle.write(contentsOf: Data((options.text + "\n").utf8)) }
        return RunOutcome(summary: "stamped \(options.times)")
    }
}
