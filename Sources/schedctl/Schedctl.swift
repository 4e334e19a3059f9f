import ArgumentParser
import Foundation
import Jobs
import Scheduler

/// The schedctl command line: the service and the tools around it.
@main
struct Schedctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedctl",
        abstract: "A market-aware job scheduler for automated trading in your own brokerage accounts.",
        discussion: """
            Exit codes: 0 success; 1 the request failed (invalid configuration, failed run, …);
            2 not found (unknown job or run); 64 bad command-line usage.
            """,
        version: SchedctlVersion.text,
        subcommands: [
            InitCommand.self, ValidateCommand.self, ServeCommand.self, JobsCommand.self, NextCommand.self, CalendarCommand.self, RunCommand.self,
            PauseCommand.self, ResumeCommand.self, BackfillCommand.self, HistoryCommand.self, ShowCommand.self, StatusCommand.self,
            ReloadCommand.self, SecretsCommand.self, AuthCommand.self, BrokerCommand.self, SandboxCommand.self,
            RebalanceCommand.self,
            SessionCommand.self,
            NotifyCommand.self,
        ]
    )

    /// Hardens the process (non-dumpable, the passphrase variables read once and removed from
    /// its own environment), then runs the command.
    static func main() async {
        SupervisedCommand.superviseIfAsked()
        ProcessHardening.harden()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// The version printed by `--version`.
enum SchedctlVersion {
    static let text = "0.1.0"
}

/// `--config FILE`, shared by commands that read `jobs.yaml`.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration file (default: $SCHEDCTL_CONFIG, else ./jobs.yaml).")
    var config: String?

    /// The path to read.
    var path: String { config ?? ProcessInfo.processInfo.environment["SCHEDCTL_CONFIG"] ?? "jobs.yaml" }
}

/// The job a command is about (`JOB`) and the configuration that defines it.
struct JobArgument: ParsableArguments {
    @Argument(help: "The job.") var job: String
    @OptionGroup var config: ConfigOptions

    /// The configuration and the job: how every command about one job starts.
    func load() throws -> (plan: Plan, spec: JobSpec) {
        let plan = try Wiring.loadPlan(config.path)
        return (plan, try Wiring.job(job, in: plan))
    }
}

/// Errors the commands raise on purpose, with their exit codes.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var code: Int32 = 1
    var description: String { message }
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// `body`'s value; an error it throws becomes the command's failure: `prefix` and the error's
/// message, with exit `code`.
func reporting<T>(code: Int32 = 1, prefix: String = "", _ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw CommandFailure(message: prefix + "\(error)", code: code) }
}

/// Runs `body`, turning a `CommandFailure` into a message on stderr and its exit code.
func exiting(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as CommandFailure {
        printError("error: " + failure.message)
        throw ExitCode(failure.code)
    }
}
