import Foundation
import Logging
public import Scheduler
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `type: exec`: runs a command in its own process group and records its exit status and the
/// tail of its output. On timeout, cancellation or shutdown the whole group gets SIGTERM, then
/// SIGKILL after `killGrace`.
///
/// ```yaml
/// backup: { type: exec, command: ["/usr/bin/rsync", "-a", "src/", "dst/"], timeout: 10m,
///           env: { TZ: UTC }, workdir: /srv, schedule: { cron: "0 3 * * *" } }
/// ```
public struct ExecJob: JobKind {
    public let name = "exec"
    public let options: [OptionSpec] = [
        OptionSpec("command", .command, required: true), OptionSpec("env", .stringMap), OptionSpec("workdir", .string),
        OptionSpec("inherit_env", .bool),
    ]
    /// How much of the combined stdout/stderr is kept.
    public var outputTailBytes = 4096
    /// How long the process group has between SIGTERM and SIGKILL.
    public var killGrace: Duration = .seconds(2)

    /// The kind.
    public init() {}

    public func run(_ context: RunContext) async throws -> RunOutcome {
        guard let argv = context.job.options["command"]?.listValue?.compactMap(\.stringValue), !argv.isEmpty else {
            throw JobFailure("the job has no command", retryable: false)
        }
        var environment = context.job.options["inherit_env"]?.boolValue == false ? [:] : ProcessInfo.processInfo.environment
        for (key, value) in context.job.options["env"]?.mapValue ?? [:] {
            switch value {
            case .string(let text): environment[key] = text
            case .secret(let name): environment[key] = try await context.secrets.resolve(name)
            default: break
            }
        }
        let workdir = context.job.options["workdir"]?.stringValue
        let process = try ChildProcess.spawn(argv: argv, environment: environment, workdir: workdir, tailBytes: outputTailBytes)
        context.logger.debug("started", metadata: ["pid": "\(process.pid)", "program": "\(argv[0])"])
        let status = await withTaskCancellationHandler {
            await process.wait()
        } onCancel: {
            process.terminateGroup(grace: killGrace)
        }
        let tail = context.secrets.redact(process.outputTail())
        if Task.isCancelled { throw CancellationError() }
        switch status {
        case .exited(0): return RunOutcome(summary: "exit 0", detail: tail.isEmpty ? nil : tail)
        case .exited(let code): throw JobFailure("exit status \(code)", detail: tail)
        case .signaled(let signal): throw JobFailure("killed by signal \(signal)", detail: tail)
        }
    }
}

/// A spawned child in its own process group, with its output collected in the background.
final class ChildProcess: Sendable {
    enum Status: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    let pid: pid_t
    private let output: Mutex<[UInt8]>
    private let readerDone: Mutex<Bool>
    private let tailBytes: Int

    private init(pid: pid_t, tailBytes: Int) {
        self.pid = pid
        self.output = Mutex([])
        self.readerDone = Mutex(false)
        self.tailBytes = tailBytes
    }

    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+), which the Swift overlay does not export.
    private static let addChdir: AddChdir? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: AddChdir.self)
    }()

    /// Starts `argv[0]` (searched on PATH) with stdout and stderr captured, stdin from /dev/null.
    static func spawn(argv: [String], environment: [String: String], workdir: String?, tailBytes: Int) throws -> ChildProcess {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw JobFailure("cannot create a pipe: \(String(cString: strerror(errno)))") }
        let readEnd = fds[0]
        let writeEnd = fds[1]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        posix_spawn_file_actions_addclose(&actions, writeEnd)
        if let workdir {
            guard let addChdir = ChildProcess.addChdir else { throw JobFailure("this system cannot set a working directory for a child", retryable: false) }
            guard FileManager.default.fileExists(atPath: workdir) else { throw JobFailure("workdir '\(workdir)' does not exist", retryable: false) }
            _ = addChdir(&actions, workdir)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        close(writeEnd)
        guard result == 0 else {
            close(readEnd)
            throw JobFailure("cannot start '\(argv[0])': \(String(cString: strerror(result)))", retryable: false)
        }
        let child = ChildProcess(pid: pid, tailBytes: tailBytes)
        let thread = Thread { [child] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(readEnd, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                child.output.withLock { output in
                    output.append(contentsOf: buffer[0..<count])
                    if output.count > child.tailBytes * 2 { output.removeFirst(output.count - child.tailBytes) }
                }
            }
            close(readEnd)
            child.readerDone.withLock { $0 = true }
        }
        thread.start()
        return child
    }

    /// Waits for the child to exit, on a thread of its own (waitpid blocks).
    func wait() async -> Status {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            Thread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let exited = status & 0x7f == 0
                continuation.resume(returning: exited ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f))
            }.start()
        }
    }

    /// SIGTERM to the group now, SIGKILL after `grace` if it is still there.
    func terminateGroup(grace: Duration) {
        let group = pid
        kill(-group, SIGTERM)
        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
            kill(-group, SIGKILL)
        }
    }

    /// The last bytes of combined output, as text (waits briefly for the reader to drain).
    func outputTail() -> String {
        for _ in 0..<50 {
            if readerDone.withLock({ $0 }) { break }
            usleep(2000)
        }
        let bytes = output.withLock { Array($0.suffix(tailBytes)) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
