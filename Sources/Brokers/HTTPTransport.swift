import CoreMetrics
import Foundation
import SchedctlBase

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The broker side of the house's ``HTTPClient``: writes on connections of their own (sent at
/// most once), a request counter per broker, and transport errors mapped to ``BrokerError``.
struct HTTPTransport: Sendable {
    let client: HTTPClient
    let broker: String
    /// The `broker` label of `schedctl_broker_requests_total`: the configured broker's name
    /// (`brokers.NAME` in `jobs.yaml`, a bounded set), else the broker type.
    let metricsName: String

    init(broker: String, name: String? = nil, timeout: TimeInterval = 30) {
        self.client = HTTPClient(timeout: timeout, writes: .onConnectionOfTheirOwn)
        self.broker = broker
        self.metricsName = name ?? broker
    }

    func send(_ method: String, _ url: URL, headers: [String: String] = [:], body: Data? = nil) async throws(BrokerError) -> HTTPAnswer {
        // `schedctl_broker_requests_total{broker,status}`: the HTTP status, or `timeout`/`error`.
        var status = "error"
        defer { Counter(label: "schedctl_broker_requests_total", dimensions: [("broker", metricsName), ("status", status)]).increment() }
        do {
            let answer = try await client.send(method, url, headers: headers, body: body)
            status = String(answer.status)
            return answer
        } catch is NotHTTPResponse {
            throw BrokerError(.transport, broker: broker, "\(broker) answered \(method) \(url.path) with a non-HTTP response")
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

/// Backoff for retries: `base · 2^attempt`, capped.
func backoff(attempt: Int, base: Double = 1, cap: Double = 60) -> Double {
    min(cap, base * pow(2, Double(max(0, attempt))))
}
