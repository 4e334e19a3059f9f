package import Foundation

#if canImport(FoundationNetworking)
    package import FoundationNetworking
#endif

/// An HTTP answer: status, headers and body.
package struct HTTPAnswer: Sendable {
    /// The status code.
    package var status: Int
    /// The headers, names as the server sent them.
    package var headers: [String: String]
    /// The body.
    package var body: Data

    package init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of header `name`, compared without case.
    package func header(_ name: String) -> String? {
        headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// The answer was not HTTP.
package struct NotHTTPResponse: Error {}

/// The one `URLSession` wrapper of the house (brokers, the Penny Vault strategy, the notifiers):
/// timeouts, no redirects, `URLSession.sendOnce`.
///
/// Every request carries credentials (a token, a client secret, a signature): a redirect is never
/// followed, so they go only to the configured host (the caller sees the 3xx).
///
/// With ``Writes/onConnectionOfTheirOwn`` reads (`GET`, `HEAD`) share one session and its pooled
/// connections, and every other request (an order write, a token grant) goes out on a connection
/// of its own that is closed afterwards: the HTTP stack re-sends a request on a fresh connection
/// when a *reused* one fails before any byte of the answer arrived (the broker may have acted on
/// it), so a write that could change an account is never put on a reused connection and is sent
/// at most once. Its unknown outcome is left to the caller (the intent journal reconciles it).
/// With ``Writes/pooled`` every request shares the session (the notifiers: a session per request
/// would leak its handles there).
package struct HTTPClient: Sendable {
    /// Where requests other than reads go.
    package enum Writes: Sendable {
        /// On the shared session, like reads.
        case pooled
        /// Each on a connection of its own, closed after the answer (sent at most once).
        case onConnectionOfTheirOwn
    }

    /// The shared session (reads, or everything with ``Writes/pooled``).
    package let session: URLSession
    /// Seconds a request may wait for data.
    package let timeout: TimeInterval
    /// Seconds a request may take in all, when limited.
    package let resourceTimeout: TimeInterval?
    /// Where writes go.
    package let writes: Writes

    package init(timeout: TimeInterval, resourceTimeout: TimeInterval? = nil, writes: Writes) {
        self.timeout = timeout
        self.resourceTimeout = resourceTimeout
        self.writes = writes
        session = URLSession(
            configuration: Self.configuration(timeout: timeout, resourceTimeout: resourceTimeout), delegate: RefuseRedirects(), delegateQueue: nil)
    }

    /// An ephemeral configuration: no cache, no cookies, the given timeouts.
    package static func configuration(timeout: TimeInterval, resourceTimeout: TimeInterval? = nil) -> URLSessionConfiguration {
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        if let resourceTimeout { config.timeoutIntervalForResource = resourceTimeout }
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.urlCache = nil
        config.httpCookieStorage = nil
        return config
    }

    /// Whether `method` may be sent on a pooled connection (a read the stack may safely repeat).
    package static func isIdempotentRead(_ method: String) -> Bool { method == "GET" || method == "HEAD" }

    /// Sends one request; throws the transport's error, `CancellationError` when the caller was
    /// cancelled (the request is never cancelled, see `URLSession.sendOnce`), or
    /// ``NotHTTPResponse``.
    package func send(_ method: String, _ url: URL, headers: [String: String] = [:], body: Data? = nil) async throws -> HTTPAnswer {
        var request = URLRequest(url: url)
        request.httpMethod = method
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        if let body { request.httpBody = body }
        let pooled = writes == .pooled || Self.isIdempotentRead(method)
        let session: URLSession
        if pooled {
            session = self.session
        } else {
            // A session of its own: no connection to reuse, so nothing to re-send on; the server
            // is told to close the connection after answering.
            let config = Self.configuration(timeout: timeout, resourceTimeout: resourceTimeout)
            config.httpMaximumConnectionsPerHost = 1
            session = URLSession(configuration: config, delegate: RefuseRedirects(), delegateQueue: nil)
            request.setValue("close", forHTTPHeaderField: "Connection")
        }
        defer { if !pooled { session.finishTasksAndInvalidate() } }
        let (data, response) = try await session.sendOnce(request)
        guard let http = response as? HTTPURLResponse else { throw NotHTTPResponse() }
        var h: [String: String] = [:]
        for (k, v) in http.allHeaderFields { h["\(k)"] = "\(v)" }
        return HTTPAnswer(status: http.statusCode, headers: h, body: data)
    }
}

/// Answers every redirect with "do not follow": the caller sees the 3xx itself.
package final class RefuseRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    package func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

/// Percent-encodes a form (`application/x-www-form-urlencoded`).
package func formEncode(_ fields: [(String, String)]) -> Data {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let s = fields.map { k, v in
        "\(k.addingPercentEncoding(withAllowedCharacters: allowed) ?? k)=\(v.addingPercentEncoding(withAllowedCharacters: allowed) ?? v)"
    }.joined(separator: "&")
    return Data(s.utf8)
}
