import Foundation
import Inspection
import Jobs
import Scheduler

/// What `next JOB` and `jobs` show for `days: strategy` jobs: the strategy's next trade date
/// from the last prediction (asked again when older than an hour) and the fire it gives.
enum StrategyDatesView {
    /// Every `days: strategy` job's record after an hourly refresh; empty when the plan has none
    /// or the database cannot be opened.
    static func records(for plan: Plan) async -> [String: StrategyTradeDateRecord] {
        guard plan.jobs.contains(where: { $0.schedule.strategyRule != nil }), let store = try? Wiring.openStore(plan) else { return [:] }
        return await Wiring.strategyDates(store: store, plan: PlanHolder(plan)).refresh()
    }

    /// The next fire of `job` after `start`: gated by its record for `days: strategy` jobs.
    static func nextFire(_ job: JobSpec, after start: Instant, records: [String: StrategyTradeDateRecord]) -> Instant? {
        guard job.schedule.strategyRule != nil else { return job.schedule.next(after: start) }
        return (records[job.name]?.gate ?? TradeDateGate()).nextFire(of: job.schedule, after: start)
    }

    /// A note such as `next trade date 2026-12-01 (seen 2026-11-30T15:00:00Z)`, or why there is none.
    static func note(_ job: JobSpec, records: [String: StrategyTradeDateRecord]) -> String? {
        guard job.schedule.strategyRule != nil else { return nil }
        guard let record = records[job.name], let date = record.gate.nextTradeDate else {
            let error = records[job.name]?.gate.lastError.map { ": \($0)" } ?? ""
            return "next trade date unknown\(error)"
        }
        let seen = record.gate.seenAt.map { " (seen \(Timestamps.iso($0.timeIntervalSince1970)))" } ?? ""
        let ran = record.gate.firedFor == date ? "; already ran for it, waiting for the next one" : ""
        return "next trade date \(date)\(seen)\(ran)"
    }
}
