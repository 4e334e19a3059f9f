import CProcessSpawn
import Foundation
public import SchedctlBase
public import Scheduler

#if canImport(Glibc)
    import Glibc
#endif

/// How `schedctl reload` reaches the services on this host: SIGHUP to each live instance's pid,
/// but only to the process that registered the row. A pid from the instance table may by now
/// name another process (the service was killed and the pid reused, or the row comes from a
/// container with the same host name), whose default SIGHUP action would end it.
public enum ReloadSignal {
    /// Whether an instance's pid may be signalled.
    public enum Verdict: Equatable, Sendable {
        /// It names the instance's process, which started at `start` (ticks since boot).
        case signal(start: UInt64)
        /// It does not (or no longer); the reason, for the user.
        case skip(String)
    }

    /// Decides from the instance's row and what `/proc` shows for its pid now. A row that
    /// records its process (boot, PID namespace, start time) must match all three; an older row
    /// (written before they were recorded) must name a process that started no later than the
    /// instance registered.
    public static func verdict(for instance: InstanceRecord, observed: ProcessTable.Stat?, here: ProcessIdentity, bootTime: Double?) -> Verdict {
        guard let observed, !observed.exited else {
            return .skip("pid \(instance.pid) is not running (the instance ended without removing its row)")
        }
        if let boot = instance.boot, let namespace = instance.pidNamespace, let start = instance.pidStart {
            if boot != here.boot { return .skip("it registered before this host last booted") }
            if namespace != here.pidNamespace { return .skip("its pid belongs to another PID namespace (another container)") }
            if UInt64(clamping: start) != observed.start { return .skip("pid \(instance.pid) now belongs to another process") }
            return .signal(start: observed.start)
        }
        guard let bootTime else { return .skip("this host cannot tell when pid \(instance.pid) started") }
        let started = bootTime + Double(observed.start) / ProcessTable.ticksPerSecond
        // The process registered the row after it started; a later start is another process.
        // (Start times are in ticks, and the row's time came from the wall clock: allow 2 s.)
        guard started <= instance.startedAt + 2 else { return .skip("pid \(instance.pid) now belongs to a process that started after the instance registered") }
        return .signal(start: observed.start)
    }

    /// What happened to one instance.
    public struct Outcome: Sendable {
        /// The instance.
        public var instance: InstanceRecord
        /// nil when it was signalled; else why not.
        public var skipped: String?
    }

    /// Sends SIGHUP to each of `instances` that ``verdict(for:observed:here:bootTime:)`` allows,
    /// through a pidfd opened first and checked after (so the signal reaches the process that
    /// was checked, never a pid reused in between).
    public static func reload(_ instances: [InstanceRecord]) -> [Outcome] {
        instances.map { instance in
            let pid = Int32(clamping: instance.pid)
            let descriptor = cps_pidfd_open(pid)
            let verdict = verdict(for: instance, observed: ProcessTable.stat(pid), here: .current, bootTime: ProcessTable.bootTime)
            guard case .signal(let start) = verdict else {
                if descriptor >= 0 { close(descriptor) }
                guard case .skip(let reason) = verdict else { return Outcome(instance: instance, skipped: nil) }
                return Outcome(instance: instance, skipped: reason)
            }
            guard descriptor >= 0 else { return Outcome(instance: instance, skipped: "pid \(pid) cannot be opened: \(String(cString: strerror(-descriptor)))") }
            defer { close(descriptor) }
            // The descriptor was opened before the check: if the start time still matches, it
            // names the checked process.
            guard ProcessTable.stat(pid)?.start == start else { return Outcome(instance: instance, skipped: "pid \(pid) now belongs to another process") }
            let result = cps_pidfd_signal(descriptor, SIGHUP)
            return Outcome(instance: instance, skipped: result == 0 ? nil : "could not signal pid \(pid): \(String(cString: strerror(result)))")
        }
    }
}
