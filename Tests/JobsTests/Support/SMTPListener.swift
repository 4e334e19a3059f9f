import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A small SMTP server on 127.0.0.1 for tests (no TLS): it speaks enough of RFC 5321 for libcurl
/// — EHLO, optional STARTTLS (advertised and refused), AUTH PLAIN, MAIL, RCPT, DATA, QUIT — and
/// keeps what it received. Each connection on a thread of its own.
final class SMTPListener: Sendable {
    struct Options: Sendable {
        /// Advertise STARTTLS (and refuse it with 454 when asked).
        var advertiseStartTLS = false
        /// Accepted `user: password` pairs (AUTH PLAIN is advertised when not empty).
        var users: [String: String] = [:]
        /// Recipients answered with 550.
        var rejected: Set<String> = []
    }

    struct Received: Sendable, Hashable {
        var user: String?
        var from: String
        var recipients: [String]
        var data: String
    }

    struct State: Sendable {
        var messages: [Received] = []
        var commands: [String] = []
    }

    let port: Int
    private let fd: Int32
    private let options: Options
    private let state = Mutex(State())

    init(_ options: Options = Options()) throws {
        self.options = options
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    /// Messages accepted so far.
    var messages: [Received] { state.withLock { $0.messages } }
    /// Every command line received (AUTH payloads included, as sent).
    var commands: [String] { state.withLock { $0.commands } }

    /// Stops accepting (the port closes).
    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func acceptLoop() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return }
            Thread { [self] in
                serve(Connection(fd: client))
                close(client)
            }.start()
        }
    }

    /// A loopback port that accepts connections (the kernel completes them) but never reads nor
    /// answers: a request to it hangs until the client gives up. Held until `release`.
    static func silentPort() throws -> (port: Int, release: @Sendable () -> Void) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (Int(UInt16(bigEndian: address.sin_port)), { close(fd) })
    }

    /// A loopback port that refuses connections: bound but not listening, and held (so no other
    /// test's server can take it) until `release` is called.
    static func refusingPort() throws -> (port: Int, release: @Sendable () -> Void) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (Int(UInt16(bigEndian: address.sin_port)), { close(fd) })
    }

    private final class Connection {
        let fd: Int32
        var buffer: [UInt8] = []
        init(fd: Int32) { self.fd = fd }

        func send(_ line: String) {
            let bytes = Array((line + "\r\n").utf8)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }

        func readLine() -> String? {
            while true {
                if let end = buffer.firstIndex(of: 10) {
                    var line = Array(buffer[..<end])
                    buffer.removeFirst(end + 1)
                    if line.last == 13 { line.removeLast() }
                    return String(decoding: line, as: UTF8.self)
                }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return nil }
                buffer += chunk[..<n]
            }
        }
    }

    private func serve(_ connection: Connection) {
        connection.send("220 localhost ESMTP test")
        var user: String?
        var from = ""
        var recipients: [String] = []
        func record(_ line: String) { state.withLock { $0.commands.append(line) } }
        func address(_ line: String) -> String {
            guard let open = line.firstIndex(of: "<"), let close = line.firstIndex(of: ">") else { return "" }
            return String(line[line.index(after: open)..<close])
        }
        func authenticate(_ payload: String) -> Bool {
            let parts = (Data(base64Encoded: payload) ?? Data()).split(separator: 0, omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            guard parts.count == 3, options.users[parts[1]] == parts[2] else { return false }
            user = parts[1]
            return true
        }
        while let line = connection.readLine() {
            record(line)
            let verb = line.split(separator: " ").first.map { $0.uppercased() } ?? ""
            switch verb {
            case "EHLO", "HELO":
                var lines = ["250-localhost"]
                if options.advertiseStartTLS { lines.append("250-STARTTLS") }
                if !options.users.isEmpty { lines.append("250-AUTH PLAIN") }
                lines.append("250 8BITMIME")
                connection.send(lines.joined(separator: "\r\n"))
            case "STARTTLS": connection.send("454 4.7.0 TLS not available due to local problem")
            case "AUTH":
                let words = line.split(separator: " ").map(String.init)
                var payload = words.count > 2 ? words[2] : nil
                if payload == nil {
                    connection.send("334 ")
                    payload = connection.readLine()
                }
                connection.send(authenticate(payload ?? "") ? "235 2.7.0 Authentication successful" : "535 5.7.8 Authentication credentials invalid")
            case "MAIL":
                from = address(line)
                recipients = []
                connection.send("250 2.1.0 Ok")
            case "RCPT":
                let to = address(line)
                if options.rejected.contains(to) {
                    connection.send("550 5.1.1 <\(to)>: Recipient address rejected: User unknown")
                } else {
                    recipients.append(to)
                    connection.send("250 2.1.5 Ok")
                }
            case "DATA":
                connection.send("354 End data with <CR><LF>.<CR><LF>")
                var lines: [String] = []
                while let data = connection.readLine(), data != "." { lines.append(data.hasPrefix("..") ? String(data.dropFirst()) : data) }
                let message = Received(user: user, from: from, recipients: recipients, data: lines.joined(separator: "\r\n"))
                state.withLock { $0.messages.append(message) }
                connection.send("250 2.0.0 Ok: queued")
            case "RSET", "NOOP": connection.send("250 2.0.0 Ok")
            case "QUIT":
                connection.send("221 2.0.0 Bye")
                return
            default: connection.send("502 5.5.2 Error: command not recognized")
            }
        }
    }
}
