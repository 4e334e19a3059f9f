import Foundation
import SchedctlBase
import Synchronization
import Testing

@testable import Brokers

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// A loopback HTTP server that answers `/token` with a 307 to `/elsewhere` and counts the
/// requests to each path.
final class RedirectingServer: Sendable {
    let port: Int
    private let fd: Int32
    private let paths = Mutex<[String]>([])

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 8192)
                let n = read(client, &buffer, buffer.count)
                let head = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
                let path = head.split(separator: " ").dropFirst().first.map(String.init) ?? ""
                paths.withLock { $0.append(path) }
                let reply =
                    path == "/token"
                    ? "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:\(port)/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    : "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
                _ = Array(reply.utf8).withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                close(client)
            }
        }.start()
    }

    /// The paths requested so far.
    var requested: [String] { paths.withLock { $0 } }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

@Suite("Broker requests and redirects")
struct RedirectTests {
    @Test func aRequestCarryingCredentialsIsNotRedirected() async throws {
        let server = try RedirectingServer()
        defer { server.stop() }
        let transport = HTTPTransport(broker: "tradestation")
        let response = try await transport.send(
            "POST", URL(string: "http://127.0.0.1:\(server.port)/token")!, headers: ["Content-Type": "application/x-www-form-urlencoded"],
            body: formEncode([("client_secret", "cs-never-forwarded"), ("refresh_token", "rt-never-forwarded")]))
        #expect(response.status == 307)
        #expect(server.requested == ["/token"], "the form with the client secret went nowhere else")
    }
}

@Suite("OAuth callback listener addresses")
struct CallbackAddressTests {
    @Test(.enabled(if: OAuthCallbackListener.hasIPv6Loopback(), "no IPv6 loopback here"))
    func anotherProgramOnTheIPv6LoopbackPortStopsTheSignIn() async throws {
        // Another program holds [::1]:PORT, where a browser may send `localhost` first.
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        try #require(bound == 0 && listen(fd, 4) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin6_port))
        do {
            let listener = try await OAuthCallbackListener.start(port: port)
            await listener.stop()
            Issue.record("the listener started although [::1]:\(port) is held by another program")
        } catch let error as BrokerError {
            #expect(error.message.contains("[::1]:\(port)"))
        }
        // With the port free on both addresses, a callback to [::1] reaches the listener.
        let listener = try await OAuthCallbackListener.start(port: 0)
        async let code = listener.waitForCode(expectedState: "s", timeout: .seconds(20))
        let client = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var target = sockaddr_in6()
        target.sin6_family = sa_family_t(AF_INET6)
        target.sin6_addr = in6addr_loopback
        target.sin6_port = in_port_t(UInt16(listener.port).bigEndian)
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        try #require(connected == 0)
        let request = Array("GET /?code=via-ipv6&state=s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        #expect(try await code == "via-ipv6")
    }
}
