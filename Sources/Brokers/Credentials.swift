public import Foundation
import Synchronization

/// Supplies named secrets (client ids, passwords, API tokens) at run time.
///
/// The secret vault implements this in the composition root; tests use ``InMemoryCredentials``.
public protocol CredentialProvider: Sendable {
    /// The secret called `name`; throws when it is missing.
    func value(for name: String) async throws -> String
    /// A token a broker just issued (access, refresh, market-data token): a provider that guards
    /// logs and errors registers it for redaction before anything can print it.
    func issued(_ token: String)
}

extension CredentialProvider {
    /// Providers that guard nothing ignore issued tokens.
    public func issued(_ token: String) {}
}

/// OAuth token state persisted between runs (the refresh token is the durable part).
public struct OAuthTokenState: Sendable, Hashable, Codable {
    /// The current access token, if any.
    public var accessToken: String?
    /// When the access token expires.
    public var accessTokenExpiresAt: Date?
    /// The refresh token (rotated tokens replace it).
    public var refreshToken: String
    /// Granted scopes.
    public var scope: String?

    public init(accessToken: String? = nil, accessTokenExpiresAt: Date? = nil, refreshToken: String, scope: String? = nil) {
        self.accessToken = accessToken
        self.accessTokenExpiresAt = accessTokenExpiresAt
        self.refreshToken = refreshToken
        self.scope = scope
    }
}

/// Durable storage for OAuth tokens with compare-and-swap updates, so two processes refreshing
/// at once never lose a rotated refresh token.
public protocol TokenStore: Sendable {
    /// The stored state, or nil when the user never signed in.
    func load() async throws -> OAuthTokenState?
    /// Replaces `expected` with `new` atomically; returns false (and writes nothing) when the
    /// stored value is no longer `expected`.
    func update(from expected: OAuthTokenState?, to new: OAuthTokenState) async throws -> Bool
}

/// A ``CredentialProvider`` backed by a dictionary.
public struct InMemoryCredentials: CredentialProvider {
    private let values: [String: String]
    public init(_ values: [String: String]) { self.values = values }
    public func value(for name: String) async throws -> String {
        guard let v = values[name] else {
            throw BrokerError(.invalidConfiguration, "secret '\(name)' is not set; add it with `schedctl secrets set \(name)`")
        }
        return v
    }
}

/// A ``TokenStore`` in memory (tests, sandbox).
public final class InMemoryTokenStore: TokenStore {
    private let state: Mutex<OAuthTokenState?>
    public init(_ initial: OAuthTokenState? = nil) { state = Mutex(initial) }
    public func load() async throws -> OAuthTokenState? { state.withLock { $0 } }
    public func update(from expected: OAuthTokenState?, to new: OAuthTokenState) async throws -> Bool {
        state.withLock { current in
            guard current == expected else { return false }
            current = new
            return true
        }
    }
    /// The stored state, synchronously (tests).
    package var current: OAuthTokenState? { state.withLock { $0 } }
}
