import Foundation
import Scheduler
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A strategy child process speaking JSON lines: schedctl writes to its stdin, reads intents from
/// its stdout, and hands each stderr line to `onStderr` (the run's log).
final class StrategyProcess: Sendable {
    private let process: Process
    private let input: Int32
    private let closed = Mutex(false)

    private init(process: Process, input: Int32) {
        self.process = process
        self.input = input
    }

    /// The child's pid.
    var pid: Int32 { process.processIdentifier }

    /// Starts `argv[0]` (searched on PATH). Each complete stdout line goes to `onLine`, each
    /// stderr line to `onStderr`; `onExit` gets the exit status once both streams are drained.
    static func start(
        argv: [String], environment: [String: String], workdir: String?, onLine: @escaping @Sendable (String) -> Void,
        onStderr: @escaping @Sendable (String) -> Void, onExit: @escaping @Sendable (Int32) -> Void
    ) throws -> StrategyProcess {
        signal(SIGPIPE, SIG_IGN)  // a strategy that exits mid-write must not kill schedctl
        if let workdir, !FileManager.default.fileExists(atPath: workdir) {
            throw JobFailure("strategy.workdir '\(workdir)' does not exist", retryable: false)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.environment = ChildEnvironment.scrubbed(environment)
        if let workdir { process.currentDirectoryURL = URL(fileURLWithPath: workdir) }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let drained = Mutex(0)
        let status = Mutex<Int32?>(nil)
        let finish: @Sendable () -> Void = {
            let ready = drained.withLock { n -> Bool in
                n += 1
                return n == 3
            }
            if ready { onExit(status.withLock { $0 } ?? -1) }
        }
        process.terminationHandler = { p in
            status.withLock { $0 = p.terminationStatus }
            finish()
        }
        do { try process.run() } catch {
            throw JobFailure("cannot start the strategy '\(argv[0])': \(error.localizedDescription)", retryable: false)
        }
        readLines(stdout.fileHandleForReading.fileDescriptor, onLine, finish)
        readLines(stderr.fileHandleForReading.fileDescriptor, onStderr, finish)
        let input = dup(stdin.fileHandleForWriting.fileDescriptor)
        try? stdin.fileHandleForWriting.close()
        return StrategyProcess(process: process, input: input)
    }

    private static func readLines(_ fd: Int32, _ handle: @escaping @Sendable (String) -> Void, _ done: @escaping @Sendable () -> Void) {
        Thread {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            // A line longer than 1 MiB is dropped whole: its bytes are discarded as they come.
            var discarding = false
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending.append(contentsOf: buffer[0..<n])
                while let i = pending.firstIndex(of: 10) {
                    if !discarding { handle(String(decoding: pending[..<i], as: UTF8.self)) }
                    discarding = false
                    pending.removeFirst(i + 1)
                }
                if pending.count > 1 << 20 {
                    pending.removeAll()
                    discarding = true
                }
            }
            if !pending.isEmpty && !discarding { handle(String(decoding: pending, as: UTF8.self)) }
            done()
        }.start()
    }

    /// Writes one line to stdin; false when the child no longer reads.
    @discardableResult
    func send(_ line: String) -> Bool {
        closed.withLock { isClosed -> Bool in
            guard !isClosed else { return false }
            var bytes = Array((line + "\n").utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(input, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    isClosed = true
                    close(input)
                    return false
                }
                offset += n
            }
            return true
        }
    }

    /// Closes stdin and ends the child (SIGTERM, SIGKILL after `grace`).
    func terminate(grace: Duration = .seconds(2)) {
        closed.withLock { isClosed in
            if !isClosed { close(input) }
            isClosed = true
        }
        guard process.isRunning else { return }
        process.terminate()
        let pid = process.processIdentifier
        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [process] in
            if process.isRunning { kill(pid, SIGKILL) }
        }
    }
}
