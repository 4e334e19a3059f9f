import Brokers
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A small HTTP POST for notifiers (Twilio, webhooks); answers status and body. One session is
/// shared by every notifier (a session per request leaks its handles), redirects are never
/// followed (a request's credentials and signature go only where they were configured to; the
/// 3xx is returned), and a request gives up after `timeout` seconds in all.
final class HTTPPost: Sendable {
    let session: URLSession

    /// The shared instance: 60 s at most per request (alerts set a shorter limit of their own).
    static let shared = HTTPPost()

    init(timeout: TimeInterval = 60) {
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        config.timeoutIntervalForResource = timeout
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.urlCache = nil
        config.httpCookieStorage = nil
        let delegate = RedirectRefusal()
        session = URLSession(configuration: config, delegate: delegate, delegateQueue: nil)
    }

    /// POSTs `body`; throws the transport error's description.
    func post(_ url: URL, headers: [String: String], body: Data) async throws -> (status: Int, body: Data) {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        for (key, value) in headers { request.setValue(value, forHTTPHeaderField: key) }
        request.httpBody = body
        let (data, response) = try await session.sendOnce(request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }
}

/// Answers every redirect with "do not follow": the caller sees the 3xx itself.
private final class RedirectRefusal: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

/// Percent-encodes a form body.
func formEncoded(_ fields: [(String, String)]) -> Data {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let text = fields.map { key, value in
        "\(key.addingPercentEncoding(withAllowedCharacters: allowed) ?? key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
    }.joined(separator: "&")
    return Data(text.utf8)
}
