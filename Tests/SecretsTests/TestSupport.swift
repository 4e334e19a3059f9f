import Foundation
import Testing

@testable import Secrets

/// A directory removed when the value is released.
final class TemporaryDirectory: @unchecked Sendable {  // immutable after init
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("schedctl-secrets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: url.path)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

struct CommandFailed: Error, CustomStringConvertible {
    let description: String
}

/// Runs OpenSSH's `ssh-keygen`. Output is captured, never printed.
enum SSHKeygen {
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh-keygen") }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            // The arguments may hold test passphrases only; still, keep them out of the message.
            throw CommandFailed(description: "ssh-keygen \(arguments.first ?? "") failed: \(text)")
        }
        return text
    }

    /// Generates a key; returns its path.
    static func generate(
        _ type: String, bits: Int? = nil, format: String? = nil, passphrase: String = "",
        rounds: Int? = nil, cipher: String? = nil, comment: String = "test@schedctl", at path: String
    ) throws -> String {
        var args = ["-q", "-t", type, "-N", passphrase, "-C", comment, "-f", path]
        if let bits { args += ["-b", String(bits)] }
        if let format { args += ["-m", format] }
        if let rounds { args += ["-a", String(rounds)] }
        if let cipher { args += ["-Z", cipher] }
        try run(args)
        return path
    }

    /// `SHA256:…` as `ssh-keygen -lf` prints it for the key's .pub file.
    static func fingerprint(of path: String) throws -> String {
        let line = try run(["-l", "-E", "sha256", "-f", path + ".pub"])
        let fields = line.split(separator: " ")
        guard fields.count >= 2 else { throw CommandFailed(description: "unexpected ssh-keygen -l output") }
        return String(fields[1])
    }

    /// Changes (or removes, with "") the passphrase, optionally converting the format.
    static func changePassphrase(_ path: String, old: String, new: String, format: String? = nil, rounds: Int? = nil) throws {
        var args = ["-q", "-p", "-P", old, "-N", new, "-f", path]
        if let format { args += ["-m", format] }
        if let rounds { args += ["-a", String(rounds)] }
        try run(args)
    }
}

extension Data {
    init(hex: String) {
        self.init(Hex.decode(hex)!)
    }
}

/// Compares a secret with an expected value without letting a failed expectation print either.
func holds(_ secret: Secret<String>?, _ expected: String) -> Bool {
    secret?.value == expected
}

/// A fresh ed25519 key built in-process (fast; for vault tests that don't need a file).
func makeTestKey(seed byte: UInt8) throws -> SSHPrivateKey {
    try SSHPrivateKey.ed25519(seed: [UInt8](repeating: byte, count: 31) + [0x42], publicKey: nil, comment: "", path: nil)
}
