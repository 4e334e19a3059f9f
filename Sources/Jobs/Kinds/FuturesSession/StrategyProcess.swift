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
///
/// Nothing here can block the caller: `send` only queues (in a bounded ``StrategyOutbox`` that
/// coalesces quotes per symbol) and a dedicated writer thread does the blocking `write(2)` with no
/// lock held, so a strategy that stops reading stalls only that thread. The stdout reader stops
/// once `intentBacklog` lines wait unhandled (a flooding strategy) and reports it with `onFlood`.
final class StrategyProcess: Sendable {
    private struct Writer: Sendable {
        var outbox: StrategyOutbox
        var closed = false
    }

    private let process: Process
    private let writer: Mutex<Writer>
    private let wake = DispatchSemaphore(value: 0)
    private let backlog: Backlog

    /// Stdout lines read and not yet handled.
    private final class Backlog: Sendable {
        let count = Mutex(0)
    }

    private init(process: Process, queueLimit: Int, backlog: Backlog) {
        self.process = process
        self.writer = Mutex(Writer(outbox: StrategyOutbox(limit: queueLimit)))
        self.backlog = backlog
    }

    /// Starts `argv[0]` (searched on PATH). Each complete stdout line goes to `onLine`, each
    /// stderr line to `onStderr`; `onExit` gets the exit status once both streams are drained.
    /// At most `queueLimit` lines wait for the strategy's stdin; once `intentBacklog` stdout lines
    /// wait unhandled (see ``consumed()``), reading stops and `onFlood` is called once.
    static func start(
        argv: [String], environment: [String: String], workdir: String?, onLine: @escaping @Sendable (String) -> Void,
        onStderr: @escaping @Sendable (String) -> Void, onExit: @escaping @Sendable (Int32) -> Void,
        queueLimit: Int = 1000, intentBacklog: Int = 1000, onFlood: @escaping @Sendable () -> Void = {}
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
        let backlog = Backlog()
        readLines(stdout.fileHandleForReading.fileDescriptor, onLine, finish, backlog: backlog, limit: intentBacklog, onFlood: onFlood)
        readLines(stderr.fileHandleForReading.fileDescriptor, onStderr, finish)
        let input = dup(stdin.fileHandleForWriting.fileDescriptor)
        try? stdin.fileHandleForWriting.close()
        let strategy = StrategyProcess(process: process, queueLimit: queueLimit, backlog: backlog)
        strategy.startWriter(input)
        return strategy
    }

    private static func readLines(
        _ fd: Int32, _ handle: @escaping @Sendable (String) -> Void, _ done: @escaping @Sendable () -> Void, backlog: Backlog? = nil,
        limit: Int = .max, onFlood: @escaping @Sendable () -> Void = {}
    ) {
        Thread {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            // A line longer than 1 MiB is dropped whole: its bytes are discarded as they come.
            var discarding = false
            var flooded = false
            reading: while true {
                let n = read(fd, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending.append(contentsOf: buffer[0..<n])
                while let i = pending.firstIndex(of: 10) {
                    if let backlog,
                        backlog.count.withLock({ b -> Bool in
                            b += 1
                            return b > limit
                        })
                    {
                        // A flood: stop reading (the strategy blocks on its own stdout) and say so once.
                        flooded = true
                        onFlood()
                        break reading
                    }
                    if !discarding { handle(String(decoding: pending[..<i], as: UTF8.self)) }
                    discarding = false
                    pending.removeFirst(i + 1)
                }
                if pending.count > 1 << 20 {
                    pending.removeAll()
                    discarding = true
                }
            }
            if !pending.isEmpty, !discarding, !flooded { handle(String(decoding: pending, as: UTF8.self)) }
            done()
        }.start()
    }

    /// The writer thread: takes the waiting lines and writes them with no lock held; it owns the
    /// descriptor and closes it when the strategy stops reading or `terminate` closes the queue.
    private func startWriter(_ fd: Int32) {
        Thread { [self] in
            writing: while true {
                wake.wait()
                let (lines, closed) = self.writer.withLock { w in (w.outbox.drain(), w.closed) }
                for line in lines {
                    var bytes = Array((line + "\n").utf8)
                    var offset = 0
                    while offset < bytes.count {
                        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                        if n < 0 && errno == EINTR { continue }
                        if n <= 0 { break writing }
                        offset += n
                    }
                }
                if closed { break }
            }
            self.writer.withLock { $0.closed = true }
            close(fd)
        }.start()
    }

    /// Queues one line for stdin (a quote of `symbol` replaces that symbol's quote still
    /// waiting); never blocks. `.overflow`: the strategy has not read `queueLimit` lines;
    /// `.closed`: its stdin is closed.
    @discardableResult
    func send(_ line: String, quoteOf symbol: String? = nil) -> StrategyOutbox.Admission {
        let admission = writer.withLock { w -> StrategyOutbox.Admission in
            guard !w.closed else { return .closed }
            return w.outbox.append(line, quoteOf: symbol)
        }
        if admission == .queued { wake.signal() }
        return admission
    }

    /// Whether the strategy's stdin is closed (it stopped reading, or it was terminated).
    var isClosed: Bool { writer.withLock { $0.closed } }

    /// One intent line from stdout was handled (the reader's backlog shrinks).
    func consumed() { backlog.count.withLock { $0 = max(0, $0 - 1) } }

    /// Closes stdin and ends the child with its process group (SIGTERM, SIGKILL after `grace`),
    /// so helpers the strategy started end with it. The child leads its own group (Foundation's
    /// `Process` starts it so; `theStrategysOwnChildrenEndWithIt` holds it to that).
    /// The writer closes stdin once it is idle; a writer stuck on a full pipe is freed when the
    /// child dies.
    func terminate(grace: Duration = .seconds(2)) {
        writer.withLock { $0.closed = true }
        wake.signal()
        // The group outlives a leader that already exited (on the stdin EOF) while any helper of
        // it runs, and its id is not reused while it has a member.
        let group = process.processIdentifier
        guard group > 0 else { return }
        kill(-group, SIGTERM)
        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
            if kill(-group, 0) == 0 { kill(-group, SIGKILL) }
        }
    }
}
