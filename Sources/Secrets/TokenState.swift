public import Foundation

/// A broker's OAuth token state, kept sealed in the vault under `BROKER/token_state`.
///
/// Printing it never shows the tokens. Its JSON form uses `accessToken`, `refreshToken`,
/// `accessTokenExpiresAt`, `refreshTokenExpiresAt`, `tokenType` (ISO 8601 dates); reading
/// also accepts the Go `oauth2.Token` form pv-tradestation wrote (`access_token`,
/// `refresh_token`, `token_type`, `expiry`).
public struct TokenState: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    /// The bearer token sent with requests.
    public var accessToken: String
    /// When the access token expires.
    public var accessTokenExpiresAt: Date?
    /// The refresh token, if the broker issued one.
    public var refreshToken: String?
    /// When the refresh token expires (rotating refresh tokens have an absolute lifetime).
    public var refreshTokenExpiresAt: Date?
    /// Usually `Bearer`.
    public var tokenType: String?
    /// Broker-specific fields (e.g. Tradovate's market-data token and its sign-in bookkeeping).
    /// Values whose key ends in `Token` are secrets and are registered for redaction.
    public var attributes: [String: String]

    public init(
        accessToken: String, accessTokenExpiresAt: Date? = nil, refreshToken: String? = nil,
        refreshTokenExpiresAt: Date? = nil, tokenType: String? = nil, attributes: [String: String] = [:]
    ) {
        self.accessToken = accessToken
        self.accessTokenExpiresAt = accessTokenExpiresAt
        self.refreshToken = refreshToken
        self.refreshTokenExpiresAt = refreshTokenExpiresAt
        self.tokenType = tokenType
        self.attributes = attributes
    }

    /// The values that must never be shown: both tokens and every `…Token` attribute.
    public var secretValues: [String] {
        [accessToken] + [refreshToken].compactMap { $0 } + attributes.filter { $0.key.hasSuffix("Token") }.map(\.value)
    }

    /// Parses either JSON form. `name` is only used in error messages.
    public init(json: Data, name: String = "token_state") throws(SecretsError) {
        guard let object = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw .invalidTokenState(name, "not a JSON object")
        }
        func string(_ keys: String...) -> String? {
            for key in keys { if let value = object[key] as? String, !value.isEmpty { return value } }
            return nil
        }
        func date(_ keys: String...) throws(SecretsError) -> Date? {
            for key in keys {
                guard let text = object[key] as? String, !text.isEmpty else { continue }
                guard let parsed = RFC3339.parse(text) else {
                    throw .invalidTokenState(name, "'\(key)' is not an RFC 3339 date")
                }
                // Go writes the zero time for "no expiry".
                return parsed.timeIntervalSince1970 < 0 ? nil : parsed
            }
            return nil
        }
        // An empty `accessToken` is kept (a broker that has not signed in yet keeps bookkeeping only).
        guard let access = string("accessToken", "access_token") ?? (object["accessToken"] as? String) else {
            throw .invalidTokenState(name, "no access token")
        }
        self.accessToken = access
        self.attributes = (object["attributes"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
        self.refreshToken = string("refreshToken", "refresh_token")
        self.tokenType = string("tokenType", "token_type")
        self.accessTokenExpiresAt = try date("accessTokenExpiresAt", "expiry")
        self.refreshTokenExpiresAt = try date("refreshTokenExpiresAt", "refresh_expiry")
    }

    /// The canonical JSON form (sorted keys, ISO 8601 dates with milliseconds).
    public func jsonData() -> Data {
        var object: [String: Any] = ["accessToken": accessToken]
        if let refreshToken { object["refreshToken"] = refreshToken }
        if let tokenType { object["tokenType"] = tokenType }
        if let accessTokenExpiresAt { object["accessTokenExpiresAt"] = RFC3339.format(accessTokenExpiresAt) }
        if let refreshTokenExpiresAt { object["refreshTokenExpiresAt"] = RFC3339.format(refreshTokenExpiresAt) }
        if !attributes.isEmpty { object["attributes"] = attributes }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    public var description: String {
        "TokenState(accessToken: \(redactedPlaceholder), refreshToken: \(refreshToken == nil ? "nil" : redactedPlaceholder), "
            + "accessTokenExpiresAt: \(accessTokenExpiresAt.map(RFC3339.format) ?? "nil"))"
    }

    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessToken": redactedPlaceholder,
                "refreshToken": refreshToken == nil ? "nil" : redactedPlaceholder,
                "accessTokenExpiresAt": accessTokenExpiresAt as Any,
                "refreshTokenExpiresAt": refreshTokenExpiresAt as Any,
            ], displayStyle: .struct)
    }
}

/// A token state with its compare-and-swap version.
public struct VersionedTokenState: Sendable, Equatable {
    /// The tokens.
    public let state: TokenState
    /// Grows by one with every write; pass it as `expectedVersion` to replace the state.
    public let version: Int64
    /// When it was last written.
    public let updatedAt: Date
}

/// RFC 3339 timestamps, including Go's nanosecond fractions and numeric offsets.
enum RFC3339 {
    static func parse(_ text: String) -> Date? {
        // Split off a fractional part, which ISO8601DateFormatter handles poorly beyond milliseconds.
        var base = text
        var fraction = 0.0
        if let dot = text.firstIndex(of: ".") {
            let afterDot = text[text.index(after: dot)...]
            let digits = afterDot.prefix(while: \.isNumber)
            guard !digits.isEmpty else { return nil }
            fraction = Double("0." + digits) ?? 0
            base = String(text[..<dot]) + afterDot.dropFirst(digits.count)
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        guard let date = formatter.date(from: base) else { return nil }
        return date.addingTimeInterval(fraction)
    }

    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
