import CoreMetrics
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A raw HTTP response.
struct RawHTTPResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: Data

    func header(_ name: String) -> String? {
        headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// Answers every redirect with "do not follow".
final class RefuseRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

/// A thin `URLSession` wrapper: one place for timeouts, redirects and transport error mapping.
///
/// Every broker request carries credentials (a token, a client secret): a redirect is never
/// followed, so they go only to the configured host (the caller sees the 3xx).
///
/// Reads (`GET`, `HEAD`) share one session and its pooled connections. Every other request (an
/// order write, a token grant) goes out on a connection of its own that is closed afterwards: the
/// HTTP stack re-sends a request on a fresh connection when a *reused* one fails before any byte
/// of the answer arrived (the broker may have acted on it), so a write that could change an
/// account is never put on a reused connection and is sent at most once. Its unknown outcome is
/// left to the caller (the intent journal reconciles it).
struct HTTPTransport: Sendable {
    let session: URLSession
    let broker: String
    /// The `broker` label of `schedctl_broker_requests_total`: the configured broker's name
    /// (`brokers.NAME` in `jobs.yaml`, a bounded set), else the broker type.
    let metricsName: String
    let timeout: TimeInterval

    init(broker: String, name: String? = nil, timeout: TimeInterval = 30) {
        self.session = URLSession(configuration: Self.configuration(timeout: timeout), delegate: RefuseRedirects(), delegateQueue: nil)
        self.broker = broker
        self.metricsName = name ?? broker
        self.timeout = timeout
    }

    static func configuration(timeout: TimeInterval) -> URLSessionConfiguration {
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.urlCache = nil
        config.httpCookieStorage = nil
        return config
    }

    /// Whether `method` may be sent on a pooled connection (a read the stack may safely repeat).
    static func isIdempotentRead(_ method: String) -> Bool { method == "GET" || method == "HEAD" }

    func send(_ method: String, _ url: URL, headers: [String: String] = [:], body: Data? = nil) async throws(BrokerError) -> RawHTTPResponse {
        var request = URLRequest(url: url)
        request.httpMethod = method
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        if let body { request.httpBody = body }
        // `schedctl_broker_requests_total{broker,status}`: the HTTP status, or `timeout`/`error`.
        var status = "error"
        defer { Counter(label: "schedctl_broker_requests_total", dimensions: [("broker", metricsName), ("status", status)]).increment() }
        let pooled = Self.isIdempotentRead(method)
        let session: URLSession
        if pooled {
            session = self.session
        } else {
            // A session of its own: no connection to reuse, so nothing to re-send on; the server
            // is told to close the connection after answering.
            let config = Self.configuration(timeout: timeout)
            config.httpMaximumConnectionsPerHost = 1
            session = URLSession(configuration: config, delegate: RefuseRedirects(), delegateQueue: nil)
            request.setValue("close", forHTTPHeaderField: "Connection")
        }
        defer { if !pooled { session.finishTasksAndInvalidate() } }
        do {
            let (data, response) = try await session.sendOnce(request)
            guard let http = response as? HTTPURLResponse else {
                throw BrokerError(.transport, broker: broker, "\(broker) answered \(method) \(url.path) with a non-HTTP response")
            }
            status = String(http.statusCode)
            var h: [String: String] = [:]
            for (k, v) in http.allHeaderFields { h["\(k)"] = "\(v)" }
            return RawHTTPResponse(status: http.statusCode, headers: h, body: data)
        } catch let e as BrokerError {
            throw e
        } catch is CancellationError {
            throw BrokerError(.transport, broker: broker, "request \(method) \(url.path) was cancelled")
        } catch let e as URLError where e.code == .timedOut {
            status = "timeout"
            throw BrokerError(.timeout, broker: broker, "\(broker) did not answer \(method) \(url.path) in time; check the network and retry")
        } catch {
            throw BrokerError(
                .transport, broker: broker, "cannot reach \(broker) at \(url.host ?? "?") for \(method) \(url.path): \(error.localizedDescription)")
        }
    }
}

/// Percent-encodes a form (`application/x-www-form-urlencoded`).
func formEncode(_ fields: [(String, String)]) -> Data {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let s = fields.map { k, v in
        "\(k.addingPercentEncoding(withAllowedCharacters: allowed) ?? k)=\(v.addingPercentEncoding(withAllowedCharacters: allowed) ?? v)"
    }.joined(separator: "&")
    return Data(s.utf8)
}

/// Parses a form body.
func formDecode(_ data: Data) -> [String: String] {
    var out: [String: String] = [:]
    for pair in String(decoding: data, as: UTF8.self).split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
        if parts.count == 2 { out[parts[0]] = parts[1] } else if parts.count == 1 { out[parts[0]] = "" }
    }
    return out
}

/// Backoff for retries: `base · 2^attempt`, capped.
func backoff(attempt: Int, base: Double = 1, cap: Double = 60) -> Double {
    min(cap, base * pow(2, Double(max(0, attempt))))
}

extension Duration {
    /// `s` seconds, clamped to 0…1 day (a non-finite or negative value is zero), so no input traps.
    static func secondsDouble(_ s: Double) -> Duration {
        guard s.isFinite, s > 0 else { return .zero }
        return .milliseconds(Int64((min(s, 86_400) * 1000).rounded()))
    }
}
