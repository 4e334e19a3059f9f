public import Scheduler
import Synchronization

/// A job kind for engine tests whose behaviour each test scripts: record, fail, block until
/// released, or checkpoint; every attempt is recorded.
public final class ScriptedJob: JobKind, Sendable {
    /// What an attempt does.
    public enum Behaviour: Sendable {
        /// Succeed at once.
        case succeed
        /// Fail (retryable) for the first `times` attempts of each run, then succeed.
        case failFirst(Int)
        /// Wait until `release()` or cancellation.
        case block
    }

    /// One recorded attempt.
    public struct Attempt: Sendable, Hashable {
        /// The job.
        public var job: String
        /// The nominal instant.
        public var nominal: Instant
        /// The attempt number.
        public var attempt: Int
        /// The lease generation.
        public var generation: Int64
        /// The checkpoint found when the attempt started.
        public var checkpoint: String?
    }

    public let name: String
    public let options: [OptionSpec] = []
    private let behaviour: Mutex<Behaviour>
    private let log = Mutex<[Attempt]>([])
    /// Parked attempts by run and lease generation: after a takeover two generations of one run
    /// may be parked at once (the old owner's until it is cancelled).
    private let gates = Mutex<[Gate: CheckedContinuation<Void, Never>]>([:])

    private struct Gate: Hashable {
        var runID: Int64
        var generation: Int64
    }
    private let released = Mutex(false)
    private let cancellations = Mutex(0)

    /// A scripted kind registered under `name`.
    public init(name: String = "scripted", behaviour: Behaviour = .succeed) {
        self.name = name
        self.behaviour = Mutex(behaviour)
    }

    /// Every attempt so far.
    public var attempts: [Attempt] { log.withLock { $0 } }

    /// How many attempts are parked in `.block`, waiting for release or cancellation.
    public var blockedCount: Int { gates.withLock { $0.count } }

    /// How many attempts ended by cancellation.
    public var cancelledCount: Int { cancellations.withLock { $0 } }

    /// Changes what later attempts do.
    public func set(_ behaviour: Behaviour) { self.behaviour.withLock { $0 = behaviour } }

    /// Lets every blocked attempt (and later ones) finish successfully.
    public func release() {
        released.withLock { $0 = true }
        let waiting = gates.withLock { g -> [CheckedContinuation<Void, Never>] in
            let all = Array(g.values)
            g = [:]
            return all
        }
        for gate in waiting { gate.resume() }
    }

    /// Lets the blocked attempts of run `runID` finish successfully.
    public func release(runID: Int64) {
        let waiting = gates.withLock { g -> [CheckedContinuation<Void, Never>] in
            let keys = g.keys.filter { $0.runID == runID }
            return keys.compactMap { g.removeValue(forKey: $0) }
        }
        for gate in waiting { gate.resume() }
    }

    public func run(_ context: RunContext) async throws -> RunOutcome {
        let checkpoint = try await context.checkpoints.load()
        log.withLock {
            $0.append(
                Attempt(job: context.job.name, nominal: context.nominal, attempt: context.attempt, generation: context.generation, checkpoint: checkpoint))
        }
        switch behaviour.withLock({ $0 }) {
        case .succeed:
            return RunOutcome(summary: "ok")
        case .failFirst(let times):
            if context.attempt <= times { throw JobFailure("scripted failure \(context.attempt)") }
            return RunOutcome(summary: "ok after \(context.attempt)")
        case .block:
            try await context.checkpoints.save("started by generation \(context.generation)")
            let key = Gate(runID: context.runID, generation: context.generation)
            await withTaskCancellationHandler {
                await withCheckedContinuation { (gate: CheckedContinuation<Void, Never>) in
                    let open = released.withLock { $0 }
                    let parked =
                        !open
                        && gates.withLock { g -> Bool in
                            if Task.isCancelled { return false }
                            g[key] = gate
                            return true
                        }
                    if !parked { gate.resume() }
                }
            } onCancel: {
                gates.withLock { $0.removeValue(forKey: key) }?.resume()
            }
            if Task.isCancelled {
                cancellations.withLock { $0 += 1 }
                throw CancellationError()
            }
            return RunOutcome(summary: "released")
        }
    }
}
