import CProcessSpawn
import Foundation
import SchedctlBase
import Scheduler
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `schedctl-supervise` process an `exec` command runs under (see its source,
/// `Sources/schedctl-supervise/main.c`): it leads the command's process group, outlives
/// schedctl, ends whatever is left of the command, and writes the result file last.
///
/// Started in two steps like any child (`start`, then `release` once its identity is in the
/// run's checkpoint); it gets no parent-death signal, so schedctl's death never ends the command.
public final class SupervisedCommand: Sendable {
    /// The supervisor's pid (its process group's id).
    let pid: pid_t
    private let pending: Mutex<cps_child?>
    /// The caller waiting in `wait` (resumed by the reaping thread, or by `detach`).
    private let waiter = Mutex<(continuation: CheckedContinuation<ChildProcess.Status?, Never>?, done: Bool)>((nil, false))

    private init(child: cps_child) {
        self.pid = child.pid
        self.pending = Mutex(child)
    }

    /// The argument that makes `schedctl` run as a supervisor (`schedctl __exec-supervisor RESULT …`).
    static let hostedModeArgument = "__exec-supervisor"

    /// Whether this executable runs as a supervisor when started with ``hostedModeArgument``
    /// (set by ``superviseIfAsked()``; a test runner has no such mode).
    static let hostsSupervisor = Mutex(false)

    /// Called first thing by `schedctl`: started as `schedctl __exec-supervisor RESULT …` (by a
    /// `serve` that found no `schedctl-supervise`), it runs as that command's supervisor and
    /// exits; otherwise it notes that this executable can host supervisors and returns.
    public static func superviseIfAsked() {
        if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == hostedModeArgument {
            exit(cps_supervise(CommandLine.argc - 1, CommandLine.unsafeArgv + 1))
        }
        hostsSupervisor.withLock { $0 = true }
    }

    /// How to start a supervisor, as the first arguments of its command line:
    /// `SCHEDCTL_SUPERVISOR`, else `schedctl-supervise` beside this executable or on PATH, else
    /// this executable in its hosted mode (so `swift run schedctl serve` needs nothing more).
    static func locateSupervisor() -> [String]? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["SCHEDCTL_SUPERVISOR"], !path.isEmpty { return [path] }
        let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var candidates: [String] = []
        if let exe { candidates.append((exe as NSString).deletingLastPathComponent + "/schedctl-supervise") }
        candidates.append(((CommandLine.arguments.first ?? "") as NSString).deletingLastPathComponent + "/schedctl-supervise")
        for candidate in candidates where !candidate.hasPrefix("/schedctl") && access(candidate, X_OK) == 0 { return [candidate] }
        if let found = ChildProcess.locate("schedctl-supervise", searchPath: environment["PATH"]), access(found, X_OK) == 0 { return [found] }
        if let exe, hostsSupervisor.withLock({ $0 }) { return [exe, hostedModeArgument] }
        return nil
    }

    /// Forks the supervisor of `program` (already searched on PATH) with `arguments`; it waits
    /// for `release`. Its standard streams are /dev/null (the command's output goes to it).
    static func start(
        supervisor: [String], result: String, tailBytes: Int, grace: Duration, program: String, argv: [String], environment: [String: String],
        workdir: String?
    ) throws -> SupervisedCommand {
        let devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard devnull >= 0 else { throw JobFailure("cannot open /dev/null: \(String(cString: strerror(errno)))") }
        defer { close(devnull) }
        let graceMs = max(0, Int(grace.components.seconds) * 1000 + Int(grace.components.attoseconds / 1_000_000_000_000_000))
        let full = supervisor + [result, String(tailBytes), String(graceMs), program] + argv.dropFirst()
        let cArgs = full.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let cPath = strdup(supervisor[0])
        let cWorkdir = workdir.map { strdup($0) }
        defer {
            for pointer in cArgs { free(pointer) }
            for pointer in cEnv { free(pointer) }
            free(cPath)
            if let cWorkdir { free(cWorkdir) }
        }
        var child = cps_child()
        let status = cArgs.withUnsafeBufferPointer { args in
            cEnv.withUnsafeBufferPointer { env in
                var request = cps_spawn_request(
                    path: cPath, argv: args.baseAddress, envp: env.baseAddress, workdir: cWorkdir.map { UnsafePointer($0!) }, output_fd: devnull,
                    death_signal: 0)
                return cps_spawn(&request, &child)
            }
        }
        guard status == 0 else { throw JobFailure("cannot start the command's supervisor: \(String(cString: strerror(status)))") }
        return SupervisedCommand(child: child)
    }

    private func takePending() -> cps_child? {
        pending.withLock { value in
            let taken = value
            value = nil
            return taken
        }
    }

    /// Lets the supervisor run the command.
    func release() throws {
        guard var child = takePending() else { return }
        let error = cps_release(&child, 1)
        if error != 0 { throw JobFailure("cannot start the command's supervisor: \(String(cString: strerror(error)))", retryable: false) }
    }

    /// Makes the waiting supervisor exit without running anything.
    func abandon() {
        guard var child = takePending() else { return }
        _ = cps_release(&child, 0)
    }

    /// Asks the supervisor to end the command's group (SIGTERM, its grace, SIGKILL) and then write
    /// its result. Safe: it is this process's child and not reaped yet, so its pid is its own.
    func stop() {
        kill(pid, SIGTERM)
    }

    /// Waits for the supervisor to exit (reaped on a thread of its own: waitpid blocks); its exit
    /// status, or nil when `detach` stopped the wait first (the supervisor runs on; it is reaped
    /// when it exits).
    func wait() async -> ChildProcess.Status? {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            let detached = waiter.withLock { state -> Bool in
                if state.done { return true }
                state.continuation = continuation
                return false
            }
            if detached {
                continuation.resume(returning: nil)
                return
            }
            Thread { [self] in
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let exited = status & 0x7f == 0
                let waiting = waiter.withLock { state in
                    state.done = true
                    defer { state.continuation = nil }
                    return state.continuation
                }
                waiting?.resume(returning: exited ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f))
            }.start()
        }
    }

    /// Stops waiting without touching the supervisor: the lease is another instance's now, which
    /// waits for the command's result itself.
    func detach() {
        let waiting = waiter.withLock { state in
            state.done = true
            defer { state.continuation = nil }
            return state.continuation
        }
        waiting?.resume(returning: nil)
    }
}

/// A supervisor started by another process (a scheduler that died), found alive by its pid and
/// start time and held by a pidfd: it is waited for and signalled through the descriptor, never
/// by a pid that may have been reused.
final class AdoptedSupervisor: Sendable {
    private let descriptor: Int32
    private let detached = Mutex(false)

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// The supervisor of `identity` if it still runs here; nil when it is gone (or the pid now
    /// names another process).
    static func find(_ identity: ProcessGroupIdentity) -> AdoptedSupervisor? {
        let fd = cps_pidfd_open(identity.pgid)
        guard fd >= 0 else { return nil }
        // Opened first, checked after: if the start time still matches, the descriptor names
        // the supervisor (a reused pid would show another start time).
        guard let stat = ProcessTable.stat(identity.pgid), stat.start == identity.start, stat.state != "Z", stat.state != "X" else {
            close(fd)
            return nil
        }
        return AdoptedSupervisor(descriptor: fd)
    }

    /// Asks it to end the command's group and write its result.
    func stop() {
        _ = cps_pidfd_signal(descriptor, SIGTERM)
    }

    /// Stops waiting without touching it (the lease moved on again).
    func detach() {
        detached.withLock { $0 = true }
    }

    /// Waits until it exited or `detach` was called (on a thread of its own, looking every
    /// 200 ms for a detach); whether it exited.
    func wait() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            Thread { [self] in
                while true {
                    let result = cps_pidfd_wait(descriptor, 200)
                    if result != 0 {
                        continuation.resume(returning: true)
                        return
                    }
                    if detached.withLock({ $0 }) {
                        continuation.resume(returning: false)
                        return
                    }
                }
            }.start()
        }
    }
}

/// What a supervisor wrote when nothing of its command was left.
struct ExecResult: Equatable, Sendable {
    enum Status: Equatable, Sendable {
        case exited(Int32)
        case signaled(Int32)
        /// The program could not be executed (an errno value).
        case notStarted(Int32)
    }

    var status: Status
    /// The command was ended on request (a cancel, a timeout, a shutdown).
    var terminated: Bool
    /// The last bytes of its combined output.
    var tail: String

    /// Parses a result file's text; nil when it is not one.
    static func parse(_ data: Data) -> ExecResult? {
        guard let split = data.firstRange(of: Data("\n\n".utf8)) else { return nil }
        let header = String(decoding: data[..<split.lowerBound], as: UTF8.self).split(separator: "\n")
        guard header.count == 3, header[0] == "schedctl-result 1" else { return nil }
        let status = header[1].split(separator: " ")
        guard status.count == 3, status[0] == "status", let value = Int32(status[2]) else { return nil }
        let parsed: Status
        switch status[1] {
        case "exit": parsed = .exited(value)
        case "signal": parsed = .signaled(value)
        case "error": parsed = .notStarted(value)
        default: return nil
        }
        guard header[2] == "terminated 0" || header[2] == "terminated 1" else { return nil }
        return ExecResult(status: parsed, terminated: header[2] == "terminated 1", tail: String(decoding: data[split.upperBound...], as: UTF8.self))
    }

    /// Reads the result file at `path`; nil when there is none (yet).
    static func read(_ path: String) -> ExecResult? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return parse(data)
    }
}
