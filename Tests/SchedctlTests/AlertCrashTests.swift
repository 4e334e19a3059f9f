import Foundation
import SchedctlTesting
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A loopback port whose listening socket first never accepts (a send to it hangs), then can be
/// replaced by a minimal HTTP receiver on the same port that answers 200 and keeps each
/// request's head and body.
final class CrashTestEndpoint: Sendable {
    let port: Int
    private let listener = Mutex<Int32>(-1)
    private let requests = Mutex<[String]>([])

    init() throws {
        let fd = Self.listen(port: 0)
        guard fd >= 0 else { throw POSIXError(.EADDRINUSE) }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener.withLock { $0 = fd }
    }

    static func listen(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 16) == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    /// Drops every connection waiting on the silent socket unread, then answers on it. The socket
    /// is kept (not closed and bound again), so no other socket can take the port in between.
    func answer() throws {
        let fd = listener.withLock { $0 }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        while true {
            let waiting = accept(fd, nil, nil)
            if waiting < 0 { break }
            close(waiting)
        }
        _ = fcntl(fd, F_SETFL, flags)
        Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                serve(client)
                close(client)
            }
        }.start()
    }

    private func serve(_ client: Int32) {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var expected: Int?
        while expected == nil || data.count < expected! {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { break }
            data += buffer[0..<n]
            if expected == nil, let end = String(decoding: data, as: UTF8.self).range(of: "\r\n\r\n") {
                let head = String(decoding: data, as: UTF8.self)[..<end.lowerBound]
                let length =
                    head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                expected = String(decoding: data, as: UTF8.self)[..<end.upperBound].utf8.count + length
            }
        }
        requests.withLock { $0.append(String(decoding: data, as: UTF8.self)) }
        let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        _ = reply.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
    }

    /// Requests received so far (head and body).
    var received: [String] { requests.withLock { $0 } }

    func stop() { close(listener.withLock { $0 }) }
}

/// A `serve` killed between claiming an alert's delivery and finishing its send: the restarted
/// `serve` sends it once its lease has run out, with the same delivery id.
@Suite("Alert delivery across a crash", .serialized)
struct AlertCrashTests {
    @Test func aDeliveryClaimedByAKilledServeIsSentAfterTheRestart() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-alert-crash")
        let endpoint = try CrashTestEndpoint()
        defer { endpoint.stop() }
        let config = directory.file("jobs.yaml")
        try """
        database: state.sqlite
        service: { lease: 2s, shutdown_grace: 1s, log_level: notice }
        notifiers:
          hook: { type: webhook, url: "http://127.0.0.1:\(endpoint.port)/hook", timeout: 5s }
        jobs:
          broken: { type: exec, command: "exit 3", schedule: { every: 1d }, notify: { on: [retries_exhausted], to: [hook] } }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        func log() async throws -> [[String: Any]] {
            let result = try await SchedctlBinary.run(["notify", "log", "--json", "--config", config])
            return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]) ?? []
        }
        func waitFor(_ what: String, within seconds: Double = 60, _ condition: () async throws -> Bool) async throws {
            try #require(try await pollUntil(within: seconds, condition), "timed out waiting for \(what)")
        }

        let first = try SchedctlBinary.serve(config: config, log: directory.file("serve-1.log"))
        defer { kill(first.processIdentifier, SIGKILL) }
        // A failed run is alerted once the service's dispatcher has started (history is not).
        try await waitFor("the alert to be claimed") {
            if try await log().isEmpty { _ = try await SchedctlBinary.run(["run", "broken", "--config", config]) }
            return try await pollUntil(within: 10) { try await log().contains { $0["claimed_by"] is String } }
        }
        kill(first.processIdentifier, SIGKILL)
        try await exited(first)
        let claimed = try #require(try await log().first { $0["claimed_by"] is String })
        let id = try #require(claimed["id"] as? String)
        let attempts = try #require(claimed["attempts"] as? Int)
        #expect(claimed["state"] as? String == "pending" && attempts >= 1)
        func entry() async throws -> [String: Any]? { try await log().first { $0["id"] as? String == id } }
        try await waitFor("the claim to stay held after the crash", within: 1) { try await entry()?["claimed_by"] is String }

        try endpoint.answer()
        let second = try SchedctlBinary.serve(config: config, log: directory.file("serve-2.log"))
        defer { kill(second.processIdentifier, SIGKILL) }
        try await waitFor("the delivery after the lease ran out") { endpoint.received.contains { $0.lowercased().contains("schedctl-delivery: \(id)") } }
        try await waitFor("the deliveries to be recorded") { try await log().allSatisfy { $0["state"] as? String == "delivered" } }
        kill(second.processIdentifier, SIGTERM)
        try await exited(second)

        let requests = endpoint.received.filter { $0.lowercased().contains("schedctl-delivery: \(id)") }
        #expect(requests.count == 1, "the claimed delivery arrived once")
        #expect(requests.first?.contains("broken retries_exhausted") == true)
        let done = try #require(try await entry())
        #expect(done["state"] as? String == "delivered" && done["attempts"] as? Int == attempts + 1, "the dead claim's attempt, then the restart's")
        #expect(endpoint.received.count == (try await log()).count, "each delivery arrived once")
    }
}
