import CProcessSpawn
import Foundation
import Secrets
import Synchronization

/// The environment of every process schedctl starts (`exec` jobs, futures strategies): what it
/// was given, without the variables that unlock the vault. Both spawners pass their environment
/// through ``scrubbed(_:)``, so no child receives the SSH key's passphrase, whatever a job's
/// `env` or `inherit_env` says.
public enum ChildEnvironment {
    /// Variables of schedctl's own environment no child ever receives.
    public static let withheld: Set<String> = [
        SSHKeyLocation.passphraseEnvironmentVariable, SSHKeyLocation.passphraseFileEnvironmentVariable, "CREDENTIALS_DIRECTORY",
    ]

    /// `environment` without the withheld variables.
    public static func scrubbed(_ environment: [String: String]) -> [String: String] {
        environment.filter { !withheld.contains($0.key) }
    }
}

/// Process-wide hardening for commands that hold the vault's key.
public enum ProcessHardening {
    private static let captured = Mutex<[String: String]?>(nil)

    /// The environment this process started with, passphrase variables included (captured by
    /// ``harden()``; the live environment when it never ran). The vault reads its passphrase here.
    public static var startEnvironment: [String: String] { captured.withLock { $0 } ?? ProcessInfo.processInfo.environment }

    /// Captures the environment, marks the process non-dumpable and removes the withheld
    /// variables from its own environment, so nothing it starts by any means inherits them.
    /// Called once, first thing, by the `schedctl` executable.
    public static func harden() {
        captured.withLock { if $0 == nil { $0 = ProcessInfo.processInfo.environment } }
        makeNonDumpable()
        for key in ChildEnvironment.withheld { unsetenv(key) }
    }

    /// Marks this process non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`): another process of the same
    /// user can then read neither its memory nor `/proc/<pid>/environ`, which still shows the
    /// environment schedctl started with. Children are dumpable again once they execute a program.
    /// Returns false when the kernel refused.
    @discardableResult
    public static func makeNonDumpable() -> Bool { cps_set_dumpable(0) == 0 }

    /// Whether this process is dumpable.
    public static var isDumpable: Bool { cps_get_dumpable() == 1 }
}
