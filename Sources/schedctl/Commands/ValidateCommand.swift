import ArgumentParser
import Jobs
import Scheduler

/// `schedctl validate`: checks `jobs.yaml` exactly as `serve` would load it.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Check the configuration; print every problem with its file, line and fix.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await exiting {
            let plan = try Wiring.loadPlan(options.path)
            let kinds = Dictionary(grouping: plan.jobs, by: \.kind).map { "\($0.value.count) \($0.key)" }.sorted()
            print("\(plan.source): OK — \(plan.jobs.count) job\(plan.jobs.count == 1 ? "" : "s") (\(kinds.joined(separator: ", "))), \(plan.brokers.count) broker\(plan.brokers.count == 1 ? "" : "s"), database \(plan.database)")
        }
    }
}
