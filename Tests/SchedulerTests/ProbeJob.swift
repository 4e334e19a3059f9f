import Scheduler
import Synchronization

/// A job kind that counts what its executions do: how many ran, how many overlapped per run,
/// per job and in total. Blocking probes wait until released (or cancelled).
final class ProbeJob: JobKind, Sendable {
    struct Counts {
        var executions = 0
        var perRun: [Int64: Int] = [:]
        var perJob: [String: Int] = [:]
        var total = 0
        var maxPerRun = 0
        var maxPerJob = 0
        var maxTotal = 0
        var cancelled = 0
    }

    let name: String
    let options: [OptionSpec] = []
    private let blocking: Bool
    private let counts = Mutex(Counts())
    private let gates = Mutex<(open: Bool, next: Int, waiting: [Int: CheckedContinuation<Void, Never>])>((false, 0, [:]))

    init(name: String = "probe", blocking: Bool) {
        self.name = name
        self.blocking = blocking
    }

    var snapshot: Counts { counts.withLock { $0 } }

    /// Lets every blocked execution (and later ones) finish.
    func release() {
        let waiting = gates.withLock { g -> [CheckedContinuation<Void, Never>] in
            g.open = true
            defer { g.waiting = [:] }
            return Array(g.waiting.values)
        }
        for gate in waiting { gate.resume() }
    }

    func run(_ context: RunContext) async throws -> RunOutcome {
        counts.withLock { c in
            c.executions += 1
            c.perRun[context.runID, default: 0] += 1
            c.perJob[context.job.name, default: 0] += 1
            c.total += 1
            c.maxPerRun = max(c.maxPerRun, c.perRun[context.runID]!)
            c.maxPerJob = max(c.maxPerJob, c.perJob[context.job.name]!)
            c.maxTotal = max(c.maxTotal, c.total)
        }
        defer {
            counts.withLock { c in
                c.perRun[context.runID]! -= 1
                c.perJob[context.job.name]! -= 1
                c.total -= 1
            }
        }
        if blocking {
            let id = gates.withLock { g -> Int in
                g.next += 1
                return g.next
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (gate: CheckedContinuation<Void, Never>) in
                    let parked = gates.withLock { g -> Bool in
                        if g.open || Task.isCancelled { return false }
                        g.waiting[id] = gate
                        return true
                    }
                    if !parked { gate.resume() }
                }
            } onCancel: {
                gates.withLock { $0.waiting.removeValue(forKey: id) }?.resume()
            }
            if Task.isCancelled {
                counts.withLock { $0.cancelled += 1 }
                throw CancellationError()
            }
        }
        return RunOutcome(summary: "probe")
    }
}
