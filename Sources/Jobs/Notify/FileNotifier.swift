public import Foundation

/// `type: file`: appends each message as a Markdown section to `path` (created with mode 0600).
public struct FileNotifier: Notifier {
    public let name: String
    /// The file.
    public var path: String
    /// The time stamped on entries.
    public var wall: @Sendable () -> Date

    /// A notifier.
    public init(name: String, path: String, wall: @escaping @Sendable () -> Date = { Date() }) {
        self.name = name
        self.path = path
        self.wall = wall
    }

    /// The Markdown appended for `message`.
    func entry(_ message: NotificationMessage) -> String {
        let stamp = ISO8601DateFormatter().string(from: wall())
        return "## \(message.subject)\n\n_\(stamp)_\n\n\(message.text.trimmingCharacters(in: .newlines))\n\n"
    }

    public func send(_ message: NotificationMessage) async throws(NotifyError) {
        let bytes = Array(entry(message).utf8)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw NotifyError(.configuration, notifier: name, "cannot open \(path) (\(String(cString: strerror(errno)))); check 'path' and its directory")
        }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw NotifyError(.transport, notifier: name, "cannot write to \(path) (\(String(cString: strerror(errno))))")
            }
            written += n
        }
    }
}
