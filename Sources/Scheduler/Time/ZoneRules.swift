import Foundation
import Synchronization

/// The UTC offsets of one time zone as a table of transitions, for fast and exact conversion
/// between instants and wall-clock times.
///
/// Foundation answers the questions too, but slowly; schedules ask millions of them. The table
/// covers 1970–2200 and is built once per zone (`ZoneRules.named("America/New_York")`).
public struct ZoneRules: Sendable, Hashable, CustomStringConvertible {
    /// The IANA identifier, e.g. `America/New_York`.
    public let identifier: String
    /// UTC instants (seconds) at which the offset changes, ascending.
    let transitions: [Int64]
    /// `offsets[i]` applies before `transitions[i]`; the last applies after the last transition.
    let offsets: [Int32]
    /// The zone's standard (non-DST) offset now, used to align intervals.
    let standardOffset: Int32

    public var description: String { identifier }

    public static func == (lhs: ZoneRules, rhs: ZoneRules) -> Bool { lhs.identifier == rhs.identifier }
    public func hash(into hasher: inout Hasher) { hasher.combine(identifier) }

    /// Coordinated Universal Time.
    public static let utc = ZoneRules(identifier: "UTC", transitions: [], offsets: [0], standardOffset: 0)
    /// America/New_York, the NYSE's clock.
    public static var newYork: ZoneRules { named("America/New_York")! }
    /// America/Chicago, the CME's clock.
    public static var chicago: ZoneRules { named("America/Chicago")! }

    private static let cache = Mutex<[String: ZoneRules]>([:])

    /// The rules of the IANA zone `identifier`, or `nil` when no such zone exists.
    public static func named(_ identifier: String) -> ZoneRules? {
        if identifier == "UTC" || identifier == "Etc/UTC" || identifier == "Z" { return .utc }
        if let cached = cache.withLock({ $0[identifier] }) { return cached }
        // Foundation's list of known identifiers misses many valid IANA names on Linux (such as
        // Asia/Kolkata or US/Eastern), so also accept a `Region/City` name that Foundation loads
        // under exactly that name; abbreviations such as EST or GMT+5 stay rejected.
        guard let zone = TimeZone(identifier: identifier),
            TimeZone.knownTimeZoneIdentifiers.contains(identifier) || identifier == "GMT"
                || (identifier.contains("/") && zone.identifier == identifier)
        else { return nil }
        let rules = build(zone, identifier: identifier)
        cache.withLock { $0[identifier] = rules }
        return rules
    }

    private init(identifier: String, transitions: [Int64], offsets: [Int32], standardOffset: Int32) {
        self.identifier = identifier
        self.transitions = transitions
        self.offsets = offsets
        self.standardOffset = standardOffset
    }

    private static func build(_ zone: TimeZone, identifier: String) -> ZoneRules {
        let start = Date(timeIntervalSince1970: 0)
        let end = Date(timeIntervalSince1970: 7_258_118_400)  // 2200-01-01
        var transitions: [Int64] = []
        var offsets: [Int32] = [Int32(zone.secondsFromGMT(for: start))]
        var cursor = start
        while let next = zone.nextDaylightSavingTimeTransition(after: cursor), next < end {
            let offset = Int32(zone.secondsFromGMT(for: next))
            if offset != offsets.last! {
                transitions.append(Int64(next.timeIntervalSince1970.rounded()))
                offsets.append(offset)
            }
            cursor = next
        }
        let now = Date()
        let standard = Int32(zone.secondsFromGMT(for: now)) - Int32(zone.daylightSavingTimeOffset(for: now))
        return ZoneRules(identifier: identifier, transitions: transitions, offsets: offsets, standardOffset: standard)
    }

    /// Index of the segment (a span of constant offset) that contains `seconds`.
    func segment(containing seconds: Int64) -> Int {
        var low = 0
        var high = transitions.count
        while low < high {
            let mid = (low + high) >> 1
            if transitions[mid] <= seconds { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The UTC offset in seconds at `instant`.
    public func offset(at instant: Instant) -> Int {
        Int(offsets[segment(containing: instant.seconds)])
    }

    /// Whether the offset changes within `seconds` of `instant`, before or after it.
    public func changesOffset(near instant: Instant, within seconds: Int64) -> Bool {
        let index = segment(containing: instant.seconds)
        if index > 0 && instant.seconds - transitions[index - 1] <= seconds { return true }
        return index < transitions.count && transitions[index] - instant.seconds <= seconds
    }

    /// The wall-clock time at `instant`.
    public func local(_ instant: Instant) -> LocalDateTime {
        LocalDateTime(localSeconds: instant.seconds + Int64(offset(at: instant)))
    }

    /// The instants at which the wall clock reads `local`: none in a spring-forward gap, two in a
    /// fall-back overlap (earlier first), otherwise one.
    public func instants(at local: LocalDateTime) -> [Instant] {
        let l = local.localSeconds
        let before = Int64(offset(at: Instant(seconds: l - 86_400)))
        let after = Int64(offset(at: Instant(seconds: l + 86_400)))
        let (early, late) = (l - max(before, after), l - min(before, after))
        var result: [Instant] = []
        if Int64(offset(at: Instant(seconds: early))) == l - early { result.append(Instant(seconds: early)) }
        if late != early, Int64(offset(at: Instant(seconds: late))) == l - late { result.append(Instant(seconds: late)) }
        return result
    }

    /// The instant for the wall-clock time `local` under `policy`: in a gap, `nil` when skipping
    /// or the time shifted forward by the gap's length; in an overlap, the first or the last
    /// (for `.both` the first; use `instants(at:)` for both).
    public func instant(at local: LocalDateTime, policy: DSTPolicy = .default) -> Instant? {
        let found = instants(at: local)
        switch found.count {
        case 0:
            guard policy.gap == .shiftForward else { return nil }
            let before = Int64(offset(at: Instant(seconds: local.localSeconds - 86_400)))
            return Instant(seconds: local.localSeconds - before)
        case 1: return found[0]
        default: return policy.overlap == .last ? found[1] : found[0]
        }
    }

    /// The instant of local midnight starting `date` (or the first instant of that day when
    /// midnight falls in a gap).
    public func startOfDay(_ date: LocalDate) -> Instant {
        instant(at: LocalDateTime(date: date, secondOfDay: 0), policy: .default)!
    }
}
