/// Decides, purely, what happens to a job's due occurrences: run, wait, or skip with a reason.
///
/// The claim transaction feeds it the job's watermark, the current time and the job's active
/// runs, then writes exactly what it returns. Keeping the decision free of I/O makes every
/// misfire and overlap policy testable as a table.
public enum OccurrencePlanner {
    /// The most occurrences one claim handles for one job (the rest follow on the next tick).
    public static let batchLimit = 1000

    /// The most missed occurrences decided one by one after downtime, a pause or a clock jump;
    /// older ones are recorded as one summary row (a `1s` job paused for a month does not
    /// insert millions of rows).
    public static let catchUpLimit = 1000

    /// Occurrences recorded together as one skipped row.
    public struct SkippedRange: Sendable, Hashable {
        /// The first occurrence (the summary row's nominal instant).
        public var first: Instant
        /// The last occurrence.
        public var last: Instant
        /// How many.
        public var count: Int

        /// The summary row's reason.
        public func reason(_ cause: String) -> String {
            "\(cause): \(count) occurrence(s) from \(first.iso8601) to \(last.iso8601), recorded as this one row"
        }
    }

    /// Walks the occurrences after `watermark` up to `now` without keeping them: when more
    /// than `keep` are due, returns the older ones as a range and the instant after which the
    /// last `keep` begin. Bounded memory; time linear in the number of occurrences.
    public static func collapse(_ schedule: Schedule, after watermark: Instant, through now: Instant, keep: Int) -> (SkippedRange, resumeAfter: Instant)? {
        var ring: [Instant] = []
        ring.reserveCapacity(keep + 1)
        var head = 0
        var count = 0
        var first: Instant?
        var cursor = watermark
        while let next = schedule.next(after: cursor), next <= now {
            if first == nil { first = next }
            if ring.count <= keep {
                ring.append(next)
            } else {
                ring[head] = next
                head = (head + 1) % ring.count
            }
            count += 1
            cursor = next
        }
        guard count > keep, let first else { return nil }
        // The oldest kept-in-ring element is the last one collapsed.
        let lastCollapsed = ring[head]
        return (SkippedRange(first: first, last: lastCollapsed, count: count - keep), lastCollapsed)
    }

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
        /// Not an occurrence after all (`days: strategy` before the strategy's next trade
        /// date): nothing is recorded; only the watermark moves past it.
        case pass(Instant)
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
        /// Older missed occurrences recorded as one skipped row (beyond `catchUpLimit`).
        public var summary: SkippedRange? = nil
        /// For `days: strategy`: the next trade date a run was decided for (store it as the
        /// gate's `firedFor`), or nil.
        public var firedFor: LocalDate? = nil
    }

    /// Plans the occurrences of `job` after `watermark` that are due by `until` (default: `now`;
    /// later ones are claimed ahead of time and are never late).
    /// A `days: strategy` job is judged by `gate` first (see ``TradeDateGate``): sessions before
    /// the strategy's next trade date pass unrecorded, and of the sessions on or after it only the
    /// last one due is a candidate for the usual misfire and overlap policies.
    public static func plan(job: JobSpec, watermark: Instant, now: Instant, until: Instant? = nil, active: Active, gate: TradeDateGate? = nil) -> Result {
        let until = max(until ?? now, now)
        var candidates: [Instant] = []
        var cursor = watermark
        var summary: SkippedRange?
        if let first = job.schedule.next(after: watermark), first <= now, job.schedule.next(after: first).map({ $0 <= now }) ?? false,
            let (range, resume) = collapse(job.schedule, after: watermark, through: now, keep: catchUpLimit)
        {
            summary = range
            cursor = resume
        }
        while candidates.count < batchLimit, let next = job.schedule.next(after: cursor), next <= until {
            candidates.append(next)
            cursor = next
        }
        var result = Result(decisions: [], watermark: candidates.last ?? summary?.last, cancelRunning: [], cancelPending: [], summary: summary)
        var gatedFor: LocalDate?
        var due = candidates
        if let rule = job.schedule.strategyRule {
            (due, gatedFor) = applyGate(gate ?? TradeDateGate(), rule: rule, to: candidates, decisions: &result.decisions)
        }
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
            if gatedFor != nil { result.firedFor = gatedFor }
        }
        result.decisions.sort { $0.instant < $1.instant }
        return result
    }

    /// Splits `candidates` by the gate: passes and skips go to `decisions`; the last candidate on
    /// or after the next trade date is returned (the others are skipped as superseded).
    static func applyGate(_ gate: TradeDateGate, rule: MarketRule, to candidates: [Instant], decisions: inout [Decision]) -> ([Instant], LocalDate?) {
        var firing: [Instant] = []
        var target: LocalDate?
        for occurrence in candidates {
            switch gate.verdict(occurrence, rule: rule) {
            case .wait: decisions.append(.pass(occurrence))
            case .skip(let reason): decisions.append(.skip(occurrence, reason: reason))
            case .fire(let date):
                firing.append(occurrence)
                target = date
            }
        }
        guard let last = firing.last else { return ([], nil) }
        for earlier in firing.dropLast() {
            decisions.append(.skip(earlier, reason: "days: strategy: one run per trade date; a later session for \(target!) is due"))
        }
        return ([last], target)
    }
}

extension OccurrencePlanner.Decision {
    /// The occurrence decided.
    public var instant: Instant {
        switch self {
        case .run(let at), .skip(let at, _), .pass(let at): return at
        }
    }
}
