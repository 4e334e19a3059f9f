import Brokers
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Shared JSON helpers for simulators.
func jsonResponse(_ status: HTTPResponse.Status = .ok, _ object: Any, headers: HTTPFields = [:]) -> Response {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    var h = headers
    h[.contentType] = "application/json"
    return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

extension Request {
    /// Collects the body (up to 1 MiB).
    mutating func bodyData() async throws -> Data {
        let buffer = try await collectBody(upTo: 1 << 20)
        return Data(buffer.readableBytesView)
    }

    func bearerToken() -> String? {
        guard let auth = headers[.authorization], auth.hasPrefix("Bearer ") else { return nil }
        return String(auth.dropFirst(7))
    }
}

struct SimulatedDrop: Error {}

/// A response that promises a body and then breaks the connection mid-way (a dropped socket).
func droppedConnectionResponse() -> Response {
    var h = HTTPFields()
    h[.contentType] = "application/json"
    return Response(
        status: .ok, headers: h,
        body: ResponseBody(contentLength: 1000) { writer in
            try await writer.write(ByteBuffer(string: "{\"Accounts\": ["))
            throw SimulatedDrop()
        })
}

/// An order's side as the simulators keep it (their own type: the simulators share no wire or
/// domain types with the clients they test).
enum SimSide: String, Sendable { case buy, sell }

/// A decimal from a JSON value (a number or a numeric string), as a server reads it.
func jsonDecimal(_ value: Any?) -> Decimal? {
    switch value {
    case let s as String: return Decimal(string: s, locale: Locale(identifier: "en_US_POSIX"))
    case let n as NSNumber: return Decimal(string: n.stringValue, locale: Locale(identifier: "en_US_POSIX"))
    default: return nil
    }
}

/// An `application/x-www-form-urlencoded` body as a dictionary.
func formDecode(_ data: Data) -> [String: String] {
    var out: [String: String] = [:]
    for pair in String(decoding: data, as: UTF8.self).split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
        if parts.count == 2 { out[parts[0]] = parts[1] } else if parts.count == 1 { out[parts[0]] = "" }
    }
    return out
}
