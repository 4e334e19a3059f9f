import Foundation
import SchedctlTesting
import Testing

@testable import Sandbox

/// The SSH key's passphrase never reaches a child of `schedctl serve` (an `exec` job, a futures
/// strategy), and `serve` is non-dumpable: a process of the same user can read neither its
/// `/proc/<pid>/environ` nor its memory. Run as root, everything runs as `nobody` (root could
/// read any process's environment anyway).
@Suite("Secrets stay out of children", .serialized)
struct ChildSecretsTests {
    static let passphrase = "pass-phrase-never-shared-7f3a"

    /// `executable arguments`, as `nobody` when this test runs as root.
    func process(_ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil) -> Process {
        let process = Process()
        if getuid() == 0 {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = directory ?? env["HOME"]
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        return process
    }

    /// Runs to completion; the exit status and output.
    func run(_ executable: String, _ arguments: [String], stdin: String = "", environment: [String: String] = [:], directory: String? = nil) async throws
        -> (status: Int32, output: String)
    {
        let process = process(executable, arguments, environment: environment, directory: directory)
        let out = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        try await exited(process)
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func neitherAStrategyNorAnExecChildGetsThePassphraseAndServesEnvironIsClosed() async throws {
        let sim = TradovateSimulator()
        try await sim.start(port: 0)
        defer { Task { await sim.stop() } }
        let directory = TemporaryDirectory(prefix: "schedctl-child-secrets")
        let dir = directory.path
        let key = try await directory.sshKey()
        // An exec command's parent is its supervisor (schedctl-supervise), whose parent is serve.
        let probe =
            "T=$PPID; if [ $(cat /proc/$T/comm) = schedctl-superv ]; then T=$(cut -d' ' -f4 /proc/$T/stat); fi; "
            + "env > NAME-env.txt; echo $T > NAME-ppid.txt; if cat /proc/$T/environ > /dev/null 2>&1; then echo readable; else echo denied; fi > NAME-proc.txt"
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        secrets: { ssh_key: \(key) }
        service: { lease: 2s, shutdown_grace: 1s, log_level: notice }
        brokers:
          tv:
            type: tradovate
            environment: demo
            username: secret:tv/username
            password: secret:tv/password
            cid: secret:tv/cid
            sec: secret:tv/sec
            base_url: \(sim.restURL.absoluteString)
            ws_url: \(sim.webSocketURL.absoluteString)
            md_url: \(sim.marketDataURL.absoluteString)
        jobs:
          probe: { type: exec, command: ["/bin/sh", "-c", "\(probe.replacingOccurrences(of: "NAME", with: "exec"))"], workdir: "\(dir)", schedule: { every: 1s, align: true } }
          es-day:
            type: futures-session
            broker: tv
            schedule: { every: 1d }
            stop: 1h
            symbols: [ESZ5]
            risk: { daily_loss_limit: 5000, max_position: 4, max_orders_per_minute: 20 }
            strategy: { command: ["/bin/sh", "-c", "\(probe.replacingOccurrences(of: "NAME", with: "strategy")); exec cat > /dev/null"], workdir: "\(dir)" }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        if getuid() == 0 {
            let chown = try Process.run(URL(fileURLWithPath: "/bin/chown"), arguments: ["-R", "65534:65534", dir])
            try await exited(chown)
        }
        let schedctl = SchedctlBinary.path()
        for (name, value) in [("tv/username", "demo-user"), ("tv/password", "demo-pass"), ("tv/cid", "1234"), ("tv/sec", "sim-secret")] {
            let set = try await run(schedctl, ["secrets", "set", name, "--config", config], stdin: value, directory: dir)
            #expect(set.status == 0, "\(set.output)")
        }

        let serve = process(schedctl, ["serve", "--config", config], environment: ["SCHEDCTL_SSH_PASSPHRASE": Self.passphrase], directory: dir)
        let log = FileHandle(forWritingAtPath: "/dev/null")
        serve.standardOutput = log
        serve.standardError = log
        try serve.run()
        defer { kill(serve.processIdentifier, SIGKILL) }
        func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
            try #require(try await pollUntil(condition), "timed out waiting for \(what)")
        }
        try await waitFor("the exec job's probe") { !fileLines(directory.file("exec-proc.txt")).isEmpty }
        let queued = try await run(schedctl, ["run", "es-day", "--config", config], directory: dir)
        #expect(queued.status == 0, "\(queued.output)")
        try await waitFor("the strategy's probe") { !fileLines(directory.file("strategy-proc.txt")).isEmpty }

        // A process of the same user, not a child of serve, cannot read serve's environment either.
        let outsider = try await run("/bin/cat", ["/proc/\(serve.processIdentifier)/environ"])
        kill(serve.processIdentifier, SIGTERM)
        try await exited(serve)

        for name in ["exec", "strategy"] {
            let environment = fileLines(directory.file("\(name)-env.txt"))
            #expect(!environment.isEmpty)
            #expect(!environment.contains { $0.contains(Self.passphrase) || $0.hasPrefix("SCHEDCTL_SSH_PASSPHRASE") }, "\(name) got the passphrase")
            #expect(fileLines(directory.file("\(name)-ppid.txt")) == ["\(serve.processIdentifier)"], "\(name) is serve's child (or its supervisor's)")
            #expect(fileLines(directory.file("\(name)-proc.txt")) == ["denied"], "\(name) read /proc/<serve pid>/environ")
        }
        #expect(outsider.status != 0 && !outsider.output.contains(Self.passphrase), "a same-user process read serve's environment")
    }
}
