/// Decides, purely, what happens to a job's due occurrences: run, wait, or skip with a reason.
///
/// The claim transaction feeds it the job's watermark, the current time and the job's active
/// runs, then writes exactly what it returns. Keeping the decision free of I/O makes every
/// misfire and overlap policy testable as a table.
public enum OccurrencePlanner {
    /// The most occurrences one claim handles for one job (the rest follow on the next tick).
    public static let batchLimit = 1000

    /// A job's currently active runs (pending or running), as the planner sees them.
    public struct Active: Sendable, Hashable {
        /// Run ids that are running.
        public var running: [Int64]
        /// Run ids that are waiting to start.
        public var pending: [Int64]
        /// No active runs.
        public init(running: [Int64] = [], pending: [Int64] = []) {
            self.running = running
            self.pending = pending
        }
    }

    /// One decision.
    public enum Decision: Sendable, Hashable {
        /// Insert the occurrence as pending (it starts as soon as it may).
        case run(Instant)
        /// Insert the occurrence as skipped, with the reason.
        case skip(Instant, reason: String)
    }

    /// What to do with one batch of due occurrences.
    public struct Result: Sendable, Hashable {
        /// One decision per due occurrence, in order.
        public var decisions: [Decision]
        /// The new watermark (the last occurrence decided), or `nil` when nothing was due.
        public var watermark: Instant?
        /// Running runs to cancel (`cancel_previous`).
        public var cancelRunning: [Int64]
        /// Waiting runs to cancel (`cancel_previous`).
        public var cancelPending: [Int64]
    }

    /// Plans the occurrences of `job` after `watermark` that are due by `until` (default: `now`;
    /// later ones are claimed ahead of time and are never late).
    public static func plan(job: JobSpec, watermark: Instant, now: Instant, until: Instant? = nil, active: Active) -> Result {
        let until = max(until ?? now, now)
        var due: [Instant] = []
        var cursor = watermark
        while due.count < batchLimit, let next = job.schedule.next(after: cursor), next <= until {
            due.append(next)
            cursor = next
        }
        var result = Result(decisions: [], watermark: due.last, cancelRunning: [], cancelPending: [])
        guard !due.isEmpty else { return result }
        // "Latest" is judged among occurrences already due; ones claimed ahead do not count.
        let moreRemain = job.schedule.next(after: cursor).map { $0 <= now } ?? false
        let lastPast = due.lastIndex { $0 <= now }
        // Overlap is judged against runs that were active before this batch; occurrences decided
        // together (a catch-up under `misfire: all`) queue behind one another instead.
        var running = active.running
        var pending = active.pending
        var queuedInBatch = false
        let grace = job.misfire.grace.components.seconds
        for (index, occurrence) in due.enumerated() {
            let late = now.seconds - occurrence.seconds
            if late > grace {
                let isLatest = index == lastPast && !moreRemain
                switch job.misfire.mode {
                case .skip:
                    result.decisions.append(.skip(occurrence, reason: "misfire: \(late)s late, grace \(DurationText.format(job.misfire.grace))"))
                    continue
                case .latest where !isLatest:
                    result.decisions.append(.skip(occurrence, reason: "misfire: superseded by a later occurrence"))
                    continue
                default: break
                }
            }
            switch job.overlap {
            case .skip where !(running.isEmpty && pending.isEmpty):
                let other = (running + pending).first!
                result.decisions.append(.skip(occurrence, reason: "overlap: run #\(other) is still active"))
                continue
            case .skip where queuedInBatch, .bufferOne where queuedInBatch:
                break
            case .bufferOne where !pending.isEmpty:
                result.decisions.append(.skip(occurrence, reason: "overlap: occurrence #\(pending[0]) is already waiting"))
                continue
            case .cancelPrevious:
                result.cancelRunning += running
                result.cancelPending += pending
                running = []
                pending = []
            default: break
            }
            result.decisions.append(.run(occurrence))
            queuedInBatch = true
        }
        return result
    }
}
