import Crypto
import Foundation
import SchedctlBase

/// The two sign-in requests of ``TradovateAuth`` and how their answers are read.
extension TradovateAuth {
    enum SignInResult {
        case session(TradovateSession)
        case refused(String)
        case penalty(seconds: Double, ticket: String, captcha: Bool)
        case locked
    }

    enum RenewResult {
        case renewed(TradovateSession)
        case penalty(seconds: Double, ticket: String)
        case refused
    }

    /// A digest of the sign-in credentials (truncated SHA-256, never the values), or nil when one
    /// cannot be read: tells changed credentials from the ones a refused sign-in used.
    func credentialsDigest() async -> String? {
        var parts: [String] = []
        for name in [configuration.usernameName, configuration.passwordName, configuration.cidName, configuration.secretName] {
            guard let value = try? await credentials.value(for: name) else { return nil }
            parts.append(value)
        }
        let digest = SHA256.hash(data: Data(("schedctl-tradovate-credentials\u{0}" + parts.joined(separator: "\u{0}")).utf8))
        return digest.prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    /// `POST /auth/accesstokenrequest` (with `p-ticket` when retrying after a penalty).
    func signInRequest(ticket: String?) async throws -> SignInResult {
        let name = try await credentials.value(for: configuration.usernameName)
        let password = try await credentials.value(for: configuration.passwordName)
        let cid = try await credentials.value(for: configuration.cidName)
        let sec = try await credentials.value(for: configuration.secretName)
        var body: [String: Any] = [
            "name": name, "password": password, "appId": configuration.appID, "appVersion": configuration.appVersion,
            "deviceId": configuration.deviceID, "cid": cid, "sec": sec,
        ]
        if let ticket { body["p-ticket"] = ticket }
        loginCount += 1
        let r = try await transport.send(
            "POST", configuration.restURL.appendingPathComponent("auth/accesstokenrequest"),
            headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: try JSONSerialization.data(withJSONObject: body))
        if r.status == 423 { return .locked }
        let obj = try checkAuthResponse(r, what: "sign-in")
        if let ticket = obj["p-ticket"] as? String {
            return .penalty(seconds: seconds(obj["p-time"]), ticket: ticket, captcha: obj["p-captcha"] as? Bool == true)
        }
        if let text = obj["errorText"] as? String, !text.isEmpty { return .refused(text) }
        return .session(try session(from: obj, what: "sign-in"))
    }

    /// `GET /auth/renewaccesstoken` with the current token (same session).
    func renewRequest(_ current: TradovateSession, ticket: String?) async throws -> RenewResult {
        renewCount += 1
        var url = configuration.restURL.appendingPathComponent("auth/renewaccesstoken")
        if let ticket { url.append(queryItems: [URLQueryItem(name: "p-ticket", value: ticket)]) }
        let r = try await transport.send("GET", url, headers: ["Authorization": "Bearer \(current.accessToken)", "Accept": "application/json"])
        if r.status == 401 { return .refused }
        let obj = try checkAuthResponse(r, what: "token renewal")
        if let ticket = obj["p-ticket"] as? String { return .penalty(seconds: seconds(obj["p-time"]), ticket: ticket) }
        if let text = obj["errorText"] as? String, !text.isEmpty {
            throw BrokerError(.authenticationFailed, broker: "tradovate", "Tradovate refused the token renewal: \(text)")
        }
        return .renewed(try session(from: obj, what: "token renewal"))
    }

    /// A `p-time` as seconds: finite and non-negative, else the default 15 s (`1e300` never traps).
    private func seconds(_ value: Any?) -> Double { ServerWait.seconds(jsonDecimal(value).map { NSDecimalNumber(decimal: $0).doubleValue }) ?? 15 }

    private func checkAuthResponse(_ r: HTTPAnswer, what: String) throws -> [String: Any] {
        switch r.status {
        case 200: break
        case 401:
            throw BrokerError(.authenticationFailed, broker: "tradovate", httpStatus: 401, "Tradovate refused the \(what) (HTTP 401)")
        case 429:
            throw BrokerError(
                .rateLimited, broker: "tradovate", httpStatus: 429, retryAfter: 3600,
                "Tradovate rate-limited this user; Tradovate asks clients to wait an hour")
        default:
            throw BrokerError(
                r.status >= 500 ? .server : .rejected, broker: "tradovate", httpStatus: r.status,
                "Tradovate \(what) failed (HTTP \(r.status)); retry later")
        }
        guard let obj = (try? JSONSerialization.jsonObject(with: r.body)) as? [String: Any] else {
            throw BrokerError(.malformedResponse, broker: "tradovate", "Tradovate returned an unreadable \(what) response")
        }
        return obj
    }

    private func session(from obj: [String: Any], what: String) throws -> TradovateSession {
        guard let token = obj["accessToken"] as? String, let expText = obj["expirationTime"] as? String,
            let exp = parseTimestamp(expText)
        else { throw BrokerError(.malformedResponse, broker: "tradovate", "Tradovate's \(what) response has no accessToken/expirationTime") }
        return TradovateSession(
            accessToken: token, mdAccessToken: obj["mdAccessToken"] as? String, expirationTime: exp,
            userID: (obj["userId"] as? NSNumber)?.int64Value)
    }
}
