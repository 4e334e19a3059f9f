import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the `exec` kind needs of a child process besides its supervisor (`SupervisedCommand`):
/// how a program name resolves, and how a child ended.
enum ChildProcess {
    /// How a child ended.
    enum Status: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    /// The program `name` resolves to: itself when it contains a slash, else the first
    /// executable file of that name on `searchPath`.
    static func locate(_ name: String, searchPath: String?) -> String? {
        if name.contains("/") { return name }
        for directory in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
