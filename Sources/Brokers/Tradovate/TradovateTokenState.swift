public import Foundation
import Synchronization

/// Sign-in and renewal bookkeeping shared by every process using one Tradovate user, so the
/// documented limits (BROKERS.md §2.7) hold across processes: attempt times of the last hour,
/// penalties still running, a captcha lock-out, and a claim on an in-flight sign-in.
public struct TradovateAuthBook: Sendable, Hashable, Codable {
    /// The user id of the session.
    public var userID: Int64?
    /// `accesstokenrequest` attempts in the last hour.
    public var signIns: [Date] = []
    /// Failed sign-ins (`errorText`) in the last hour, and the last reason.
    public var failedSignIns: [Date] = []
    public var lastFailure: String?
    /// `renewaccesstoken` attempts in the last hour.
    public var renewals: [Date] = []
    /// A sign-in time penalty: no attempt before this, then retry with the ticket.
    public var signInNotBefore: Date?
    public var signInTicket: String?
    /// A renewal time penalty.
    public var renewNotBefore: Date?
    public var renewTicket: String?
    /// No sign-in at all before this (captcha demanded, HTTP 423).
    public var lockedUntil: Date?
    public var lockReason: String?
    /// Another process is signing in until this instant: wait for its token.
    public var claimUntil: Date?
    /// A digest (truncated SHA-256) of the credentials the last refused sign-in used: once they
    /// change (`schedctl secrets set …`), a sign-in is tried without the cooldown; the hourly
    /// limit of failed sign-ins still holds.
    public var failedCredentials: String?

    /// An empty book.
    public init() {}

    private enum CodingKeys: String, CodingKey {
        case userID, signIns, failedSignIns, lastFailure, renewals, signInNotBefore, signInTicket, renewNotBefore, renewTicket, lockedUntil, lockReason
        case claimUntil, failedCredentials
    }

    /// Decodes a stored book field by field: a field that is missing (a book written before it
    /// existed) or unreadable is left at its default, and the rest, above all a lock-out
    /// (`lockedUntil`), is kept.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func field<T: Decodable>(_ key: CodingKeys) -> T? { (try? c.decodeIfPresent(T.self, forKey: key)) ?? nil }
        userID = field(.userID)
        signIns = field(.signIns) ?? []
        failedSignIns = field(.failedSignIns) ?? []
        lastFailure = field(.lastFailure)
        renewals = field(.renewals) ?? []
        signInNotBefore = field(.signInNotBefore)
        signInTicket = field(.signInTicket)
        renewNotBefore = field(.renewNotBefore)
        renewTicket = field(.renewTicket)
        lockedUntil = field(.lockedUntil)
        lockReason = field(.lockReason)
        claimUntil = field(.claimUntil)
        failedCredentials = field(.failedCredentials)
    }

    /// Drops attempt times older than `cutoff`.
    mutating func prune(before cutoff: Date) {
        signIns.removeAll { $0 < cutoff }
        failedSignIns.removeAll { $0 < cutoff }
        renewals.removeAll { $0 < cutoff }
    }
}

/// The shared Tradovate token and its bookkeeping, as kept in the vault (`NAME/token_state`).
public struct TradovateTokenState: Sendable, Hashable {
    /// The access token (nil before the first sign-in or after the server refused it).
    public var accessToken: String?
    public var mdAccessToken: String?
    public var expirationTime: Date?
    public var book = TradovateAuthBook()

    /// An empty state.
    public init(accessToken: String? = nil, mdAccessToken: String? = nil, expirationTime: Date? = nil, book: TradovateAuthBook = TradovateAuthBook()) {
        self.accessToken = accessToken
        self.mdAccessToken = mdAccessToken
        self.expirationTime = expirationTime
        self.book = book
    }

    /// The session, when a token is stored.
    public var session: TradovateSession? {
        guard let accessToken, !accessToken.isEmpty, let expirationTime else { return nil }
        return TradovateSession(accessToken: accessToken, mdAccessToken: mdAccessToken, expirationTime: expirationTime, userID: book.userID)
    }
}

/// A stored ``TradovateTokenState`` with its compare-and-swap version.
public struct VersionedTradovateTokenState: Sendable, Hashable {
    public var state: TradovateTokenState
    public var version: Int64
    /// A versioned state.
    public init(state: TradovateTokenState, version: Int64) {
        self.state = state
        self.version = version
    }
}

/// Durable, shared storage of the Tradovate token with compare-and-swap writes: every process and
/// command on one database uses the same token and respects the same attempt limits.
public protocol TradovateTokenStore: Sendable {
    /// The stored state, or nil when nothing is stored yet.
    func load() async throws -> VersionedTradovateTokenState?
    /// Writes `state` if the stored version is still `expectedVersion` (nil: nothing stored);
    /// returns the new version, or nil (and writes nothing) when another writer came first.
    func replace(expectedVersion: Int64?, with state: TradovateTokenState) async throws -> Int64?
}

/// A ``TradovateTokenStore`` in memory: one per process (tests, the sandbox).
public final class InMemoryTradovateTokenStore: TradovateTokenStore {
    private let stored = Mutex<VersionedTradovateTokenState?>(nil)
    /// An empty store.
    public init() {}
    public func load() async throws -> VersionedTradovateTokenState? { stored.withLock { $0 } }
    public func replace(expectedVersion: Int64?, with state: TradovateTokenState) async throws -> Int64? {
        stored.withLock { current in
            guard current?.version == expectedVersion else { return nil }
            let next = (current?.version ?? 0) + 1
            current = VersionedTradovateTokenState(state: state, version: next)
            return next
        }
    }
}

/// Limits schedctl keeps itself to, inside Tradovate's documented ones (BROKERS.md §2.7).
public struct TradovateAuthLimits: Sendable, Hashable {
    /// Failed sign-ins allowed per hour (Tradovate: 5, then an hour of captcha lock-out).
    public var failedSignInsPerHour = 2
    /// After a failed sign-in, no new attempt for this long (fix the credentials meanwhile).
    public var failedSignInCooldown: TimeInterval = 5 * 60
    /// Sign-ins allowed per hour (each one opens a session; Tradovate keeps two per user).
    public var signInsPerHour = 6
    /// Renewal attempts allowed per hour (Tradovate: 15, successes included).
    public var renewalsPerHour = 12
    /// At most one renewal attempt per this interval.
    public var renewalInterval: TimeInterval = 60
    /// Time-penalty waits (`p-time`) to sit out in one call before giving up.
    public var penaltyWaits = 3

    /// The defaults.
    public init() {}
}
