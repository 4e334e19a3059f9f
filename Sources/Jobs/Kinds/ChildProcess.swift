import CProcessSpawn
import Foundation
import Scheduler
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A child started in its own process group, with its output collected in the background.
///
/// Starting is two steps: `start` forks a child that waits (its group exists, it has not executed
/// anything yet), the caller records the group's identity, and `release` lets it execute. A child
/// whose identity could not be recorded is never run. On Linux the child gets SIGKILL when this
/// process dies (`PR_SET_PDEATHSIG`), armed on a spawning thread that never ends.
final class ChildProcess: Sendable {
    enum Status: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    let pid: pid_t
    private let output: Mutex<[UInt8]>
    private let readerDone: Mutex<Bool>
    private let tailBytes: Int
    private let pending: Mutex<cps_child?>

    private init(child: cps_child, tailBytes: Int) {
        self.pid = child.pid
        self.output = Mutex([])
        self.readerDone = Mutex(false)
        self.tailBytes = tailBytes
        self.pending = Mutex(child)
    }

    /// The program `name` resolves to: itself when it contains a slash, else the first
    /// executable file of that name on `searchPath`.
    static func locate(_ name: String, searchPath: String?) -> String? {
        if name.contains("/") { return name }
        for directory in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Forks a child for `argv` (searched on the child's PATH) that waits for `release`; stdout and
    /// stderr are captured, stdin is /dev/null.
    static func start(argv: [String], environment: [String: String], workdir: String?, tailBytes: Int) throws -> ChildProcess {
        guard let program = locate(argv[0], searchPath: environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"]) else {
            throw JobFailure("cannot start '\(argv[0])': no such program on PATH", retryable: false)
        }
        if let workdir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: workdir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw JobFailure("workdir '\(workdir)' does not exist", retryable: false)
            }
        }
        var fds: [Int32] = [0, 0]
        let pipeError = cps_pipe(&fds)
        guard pipeError == 0 else { throw JobFailure("cannot create a pipe: \(String(cString: strerror(pipeError)))") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = ChildEnvironment.scrubbed(environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        let cPath = strdup(program)
        let cWorkdir = workdir.map { strdup($0) }
        defer {
            for pointer in cArgs { free(pointer) }
            for pointer in cEnv { free(pointer) }
            free(cPath)
            if let cWorkdir { free(cWorkdir) }
        }
        var child = cps_child()
        let result = cArgs.withUnsafeBufferPointer { args in
            cEnv.withUnsafeBufferPointer { env in
                var request = cps_spawn_request(
                    path: cPath, argv: args.baseAddress, envp: env.baseAddress, workdir: cWorkdir.map { UnsafePointer($0!) },
                    output_fd: writeEnd, death_signal: ChildProcess.deathSignal)
                return cps_spawn(&request, &child)
            }
        }
        close(writeEnd)
        guard result == 0 else {
            close(readEnd)
            throw JobFailure("cannot start '\(argv[0])': \(String(cString: strerror(result)))")
        }
        let process = ChildProcess(child: child, tailBytes: tailBytes)
        Thread { [process] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(readEnd, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                process.output.withLock { output in
                    output.append(contentsOf: buffer[0..<count])
                    if output.count > process.tailBytes * 2 + 8192 { output.removeFirst(output.count - process.tailBytes - 8192) }
                }
            }
            close(readEnd)
            process.readerDone.withLock { $0 = true }
        }.start()
        return process
    }

    #if os(Linux)
        static let deathSignal = SIGKILL
    #else
        static let deathSignal: Int32 = 0
    #endif

    /// The waiting child, once: releasing or abandoning it happens at most once.
    private func takePending() -> cps_child? {
        pending.withLock { value in
            let taken = value
            value = nil
            return taken
        }
    }

    /// Lets the waiting child execute its program; throws when it cannot (the child has exited).
    func release() throws {
        guard var child = takePending() else { return }
        let error = cps_release(&child, 1)
        if error != 0 { throw JobFailure("cannot start the command: \(String(cString: strerror(error)))", retryable: false) }
    }

    /// Makes the waiting child exit without running anything.
    func abandon() {
        guard var child = takePending() else { return }
        _ = cps_release(&child, 0)
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
        DispatchQueue.global().asyncAfter(deadline: .now() + grace.secondsValue) {
            kill(-group, SIGKILL)
        }
    }

    /// The last `tailBytes` bytes of combined output, as text, `redact`ed before the cut (over
    /// 8 KiB more than the tail), so a secret that straddles the cut leaves no fragment. Waits
    /// briefly for the reader to drain.
    func outputTail(redact: (String) -> String = { $0 }) -> String {
        for _ in 0..<50 {
            if readerDone.withLock({ $0 }) { break }
            usleep(2000)
        }
        let bytes = output.withLock { Array($0) }
        let redacted = redact(String(decoding: bytes, as: UTF8.self))
        return String(decoding: Array(redacted.utf8.suffix(tailBytes)), as: UTF8.self)
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
