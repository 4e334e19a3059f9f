import Foundation

/// A CLI test's workspace: a temporary directory holding an SSH key for the vault and the
/// `jobs.yaml` the test writes. The key is made by `ssh-keygen` once per test process (a suite
/// no longer spawns it for every test) and copied into each fixture.
public final class CLIFixture: Sendable {
    /// The directory (removed when the fixture is released).
    public let directory: TemporaryDirectory
    /// The path of the fixture's SSH private key (mode 0600).
    public let key: String

    private init(directory: TemporaryDirectory, key: String) {
        self.directory = directory
        self.key = key
    }

    /// A fresh fixture.
    public static func make(prefix: String = "schedctl-cli") async throws -> CLIFixture {
        let directory = TemporaryDirectory(prefix: prefix)
        return CLIFixture(directory: directory, key: try await directory.sshKey())
    }

    /// A path inside the directory.
    public func file(_ name: String) -> String { directory.file(name) }

    /// Writes `jobs.yaml`: `database: state.sqlite`, the vault's `secrets:` line with the key,
    /// then `body`; returns its path.
    public func writeConfig(_ body: String) throws -> String {
        let path = file("jobs.yaml")
        try "database: state.sqlite\nsecrets: { ssh_key: \(key) }\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

extension TemporaryDirectory {
    /// Writes the test process's SSH key pair (an ed25519 key without passphrase, made once by
    /// `ssh-keygen`) as `name` and `name.pub` here; returns the private key's path.
    public func sshKey(_ name: String = "id_ed25519") async throws -> String {
        let pair = try await SharedSSHKey.shared.pair()
        let path = file(name)
        guard FileManager.default.createFile(atPath: path, contents: pair.privateKey, attributes: [.posixPermissions: 0o600]),
            FileManager.default.createFile(atPath: path + ".pub", contents: pair.publicKey, attributes: [.posixPermissions: 0o644])
        else { throw SSHKeygenFailure(description: "cannot write the SSH key to \(path)") }
        return path
    }
}

/// `ssh-keygen` failed or is missing.
struct SSHKeygenFailure: Error, CustomStringConvertible {
    var description: String
}

/// The one SSH key pair of a test process.
private actor SharedSSHKey {
    static let shared = SharedSSHKey()
    private var made: (privateKey: Data, publicKey: Data)?

    func pair() async throws -> (privateKey: Data, publicKey: Data) {
        if let made { return made }
        let directory = TemporaryDirectory(prefix: "schedctl-key")
        let key = directory.file("id_ed25519")
        let keygen = try Process.run(URL(fileURLWithPath: "/usr/bin/ssh-keygen"), arguments: ["-q", "-t", "ed25519", "-N", "", "-f", key])
        try await exited(keygen)
        guard keygen.terminationStatus == 0, let privateKey = FileManager.default.contents(atPath: key),
            let publicKey = FileManager.default.contents(atPath: key + ".pub")
        else { throw SSHKeygenFailure(description: "ssh-keygen is needed (apt-get install openssh-client)") }
        if let made { return made }
        made = (privateKey, publicKey)
        return (privateKey, publicKey)
    }
}
