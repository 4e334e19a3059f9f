/// What a wall-clock schedule does on the two daylight-saving days of the year.
///
/// Defaults: a time that does not exist (spring forward, 02:30 on 2026-03-08 in New York) is
/// shifted forward by the length of the gap (fires at 03:30); a time that happens twice (fall back,
/// 01:30 on 2026-11-01) fires once, on the first. Cron expressions whose hour field is `*` run on
/// every real hour instead: they skip the missing hour and run in both copies of the repeated one.
public struct DSTPolicy: Hashable, Sendable, Codable {
    /// What to do with a wall time inside the spring-forward gap.
    public enum Gap: String, Hashable, Sendable, Codable, CaseIterable {
        /// Fire the missing time shifted forward by the gap's length (02:30 → 03:30).
        case shiftForward = "shift"
        /// Do not fire that day.
        case skip
    }

    /// What to do with a wall time inside the fall-back overlap.
    public enum Overlap: String, Hashable, Sendable, Codable, CaseIterable {
        /// Fire at the first occurrence (daylight time).
        case first
        /// Fire at the second occurrence (standard time).
        case last
        /// Fire at both.
        case both
    }

    /// The spring-forward rule.
    public var gap: Gap
    /// The fall-back rule.
    public var overlap: Overlap

    /// A policy; the defaults are `shift` and `first`.
    public init(gap: Gap = .shiftForward, overlap: Overlap = .first) {
        self.gap = gap
        self.overlap = overlap
    }

    /// Shift forward, fire on the first.
    public static let `default` = DSTPolicy()
    /// What hourly and finer wall-clock rules use: skip the missing hour, run both repeated ones.
    public static let everyRealHour = DSTPolicy(gap: .skip, overlap: .both)

    /// `gap=shift overlap=first`.
    public var summary: String { "spring-forward: \(gap.rawValue), fall-back: \(overlap.rawValue)" }
}
