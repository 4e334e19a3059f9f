import Foundation
public import Scheduler

/// A configured job's fire times as `serve` will produce them. Most rules are absolute (cron,
/// aligned intervals, markets, one-shots), but an unaligned `every` counts from the instant the
/// service first saw the job: its series continues from the watermark the database keeps.
public enum JobGrid {
    /// Whether `schedule`'s fire times depend on the job's watermark.
    public static func dependsOnWatermark(_ schedule: Schedule) -> Bool {
        if case .interval(_, aligned: false, _) = schedule.rule { return true }
        return false
    }

    /// Each job's watermark in `store` (empty when it cannot be read).
    public static func watermarks(_ store: Store) async -> [String: Instant] {
        guard let status = try? await store.status(now: Date()) else { return [:] }
        return status.jobs.compactMapValues { $0.watermark.map(Instant.init(seconds:)) }
    }

    /// The first fire strictly after `instant`, on the job's series from `watermark` when it has one.
    public static func next(_ schedule: Schedule, after instant: Instant, watermark: Instant?) -> Instant? {
        guard case .interval(let seconds, aligned: false, _) = schedule.rule, let watermark else { return schedule.next(after: instant) }
        let steps = instant > watermark ? (instant.seconds - watermark.seconds) / seconds + 1 : 1
        return Instant(seconds: watermark.seconds + steps * seconds)
    }

    /// Up to `count` fires after `instant`, on the job's series from `watermark`.
    public static func upcoming(_ schedule: Schedule, after instant: Instant, watermark: Instant?, count: Int) -> [Instant] {
        guard count > 0, let first = next(schedule, after: instant, watermark: watermark) else { return [] }
        return [first] + schedule.upcoming(after: first, count: count - 1)
    }
}
