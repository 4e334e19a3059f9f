public import Foundation

/// Runs the built `schedctl` binary in tests: one-shot commands and long-lived services.
public enum SchedctlBinary {
    /// The package root (two levels above `Tests/<Target>/<file>.swift`).
    public static func packageRoot(from file: String = #filePath) -> URL {
        URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The debug binary; `swift build` (or `swift test`, which builds it first) puts it there.
    public static func path(file: String = #filePath) -> String {
        let root = packageRoot(from: file)
        for candidate in [".build/debug/schedctl", ".build/x86_64-unknown-linux-gnu/debug/schedctl", ".build/aarch64-unknown-linux-gnu/debug/schedctl"] {
            let path = root.appendingPathComponent(candidate).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root.appendingPathComponent(".build/debug/schedctl").path
    }

    /// The result of a finished command.
    public struct Result: Sendable {
        /// Exit status.
        public var status: Int32
        /// Standard output.
        public var stdout: String
        /// Standard error.
        public var stderr: String
    }

    /// Runs `schedctl arguments…` to completion with `stdin` as input (off the shared threads).
    public static func run(
        _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:], directory: String? = nil, file: String = #filePath
    ) async throws -> Result {
        let executable = path(file: file)
        return try await offPool { try runBlocking(executable, arguments, stdin: stdin, environment: environment, directory: directory) }
    }

    private static func runBlocking(
        _ executable: String, _ arguments: [String], stdin: String?, environment: [String: String], directory: String?
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Starts `schedctl serve --config config` with its output appended to `log`.
    public static func serve(config: String, log: String, environment: [String: String] = [:], file: String = #filePath) throws -> Process {
        try start(["serve", "--config", config], log: log, environment: environment, file: file)
    }

    /// Starts `schedctl arguments` without waiting for it, its output appended to `log`.
    public static func start(_ arguments: [String], log: String, environment: [String: String] = [:], file: String = #filePath) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path(file: file))
        // Services started side by side each take a free port for the status endpoint (the
        // default, 8377, is one per host) unless the test chose one.
        process.arguments = arguments.first == "serve" && !arguments.contains("--http") ? arguments + ["--http", "127.0.0.1:0"] : arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }
}
