import Foundation
import SchedctlBase

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Who an `exec` child is, recorded in the run's checkpoint before the child executes: the host
/// (name and boot), the process group (the child's pid) and the leader's start time, which tells
/// a surviving group apart from a later process that reused the pid.
struct ProcessGroupIdentity: Codable, Sendable, Equatable {
    /// The host name.
    var host: String
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`); empty where there is none.
    var boot: String
    /// The process group id (the leader's pid).
    var pgid: Int32
    /// The leader's start time in clock ticks since boot (`/proc/PID/stat` field 22), 0 if unknown.
    var start: UInt64
    /// The lease generation that started it.
    var generation: Int64
    /// The attempt that started it.
    var attempt: Int
    /// The PID namespace it runs in (`/proc/self/ns/pid`); nil in identities saved before it was.
    var pidns: String? = nil
    /// The supervisor's result file; nil in identities saved before supervisors.
    var result: String? = nil

    /// The identity of the group led by `pid` on this host (its supervisor writing `result`).
    static func current(pid: Int32, generation: Int64, attempt: Int, result: String? = nil) -> ProcessGroupIdentity {
        ProcessGroupIdentity(
            host: thisHost, boot: thisBoot, pgid: pid, start: ProcessTable.stat(pid)?.start ?? 0, generation: generation, attempt: attempt,
            pidns: thisPIDNamespace, result: result)
    }

    /// Whether the kernel has not restarted since (the boot id matches; a host name says nothing).
    var sameBoot: Bool { !boot.isEmpty && boot == Self.thisBoot }

    /// Whether its pids mean the same processes here (same PID namespace).
    var samePIDNamespace: Bool { pidns.map { $0 == Self.thisPIDNamespace } ?? (host == Self.thisHost) }

    /// Whether the group ran on this kernel since its last boot, in this PID namespace (only then
    /// can it be found here).
    var isLocal: Bool { sameBoot && samePIDNamespace }

    static var thisPIDNamespace: String { ProcessTable.pidNamespace }
    static var thisHost: String { ProcessTable.hostName }
    static var thisBoot: String { ProcessTable.bootID }
}

/// What the exec kind keeps in a run's checkpoint: the group of the child that is running, if any.
struct ExecCheckpoint: Codable, Sendable, Equatable {
    /// The running child's group; nil once it has exited.
    var running: ProcessGroupIdentity?

    /// The checkpoint text.
    var text: String { String(decoding: (try? JSONEncoder().encode(self)) ?? Data("{}".utf8), as: UTF8.self) }

    /// Decodes `text`; nil when it is absent or not an exec checkpoint.
    static func decode(_ text: String?) -> ExecCheckpoint? {
        guard let text, !text.isEmpty else { return nil }
        return try? JSONDecoder().decode(ExecCheckpoint.self, from: Data(text.utf8))
    }
}

extension ProcessTable {
    /// Live (not zombie) processes of group `pgid` that started no earlier than its leader did.
    /// Empty when the leader's pid now belongs to a later process: the group is gone.
    static func survivors(of identity: ProcessGroupIdentity) -> [Int32] {
        if let leader = stat(identity.pgid), leader.start != identity.start { return [] }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: [Int32] = []
        for entry in entries {
            guard let pid = Int32(entry), let info = stat(pid), info.pgrp == identity.pgid else { continue }
            if info.state == "Z" || info.state == "X" || info.start < identity.start { continue }
            found.append(pid)
        }
        return found.sorted()
    }

    /// Ends what is left of a group: SIGTERM, up to `grace` for it to go, then SIGKILL, and waits
    /// (bounded) until nothing of it is alive. Returns how many processes were found.
    static func terminate(_ identity: ProcessGroupIdentity, grace: Duration) async -> (found: Int, killed: Bool) {
        let initial = survivors(of: identity)
        guard !initial.isEmpty else { return (0, false) }
        for pid in initial { kill(pid, SIGTERM) }
        if await gone(identity, within: grace) { return (initial.count, false) }
        for pid in survivors(of: identity) { kill(pid, SIGKILL) }
        _ = await gone(identity, within: .seconds(5))
        return (initial.count, true)
    }

    private static func gone(_ identity: ProcessGroupIdentity, within limit: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            if survivors(of: identity).isEmpty { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return survivors(of: identity).isEmpty
    }
}
