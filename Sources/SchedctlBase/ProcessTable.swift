import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The processes of this host, as `/proc` shows them (Linux only; elsewhere nothing is found).
public enum ProcessTable {
    /// One process's state letter, process group and start time.
    public struct Stat: Equatable, Sendable {
        /// The state letter (`R`, `S`, `Z`, ...).
        public var state: Character
        /// The process group.
        public var pgrp: Int32
        /// The start time in clock ticks since boot (field 22).
        public var start: UInt64

        public init(state: Character, pgrp: Int32, start: UInt64) {
            self.state = state
            self.pgrp = pgrp
            self.start = start
        }

        /// Whether it has exited (a zombie or dead entry).
        public var exited: Bool { state == "Z" || state == "X" }
    }

    /// Fields of `/proc/PID/stat`, or nil if there is no such process.
    public static func stat(_ pid: Int32) -> Stat? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return parse(text)
    }

    /// Parses a `/proc/PID/stat` line (the command name may contain spaces and parentheses).
    public static func parse(_ text: String) -> Stat? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // fields[0] is field 3 (state), fields[2] field 5 (pgrp), fields[19] field 22 (starttime).
        guard fields.count > 19, let state = fields[0].first, let pgrp = Int32(fields[2]), let start = UInt64(fields[19]) else { return nil }
        return Stat(state: state, pgrp: pgrp, start: start)
    }

    /// The host name.
    public static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`); empty where there is none.
    public static let bootID: String = {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }()

    /// This process's PID namespace (`/proc/self/ns/pid`); empty where there is none.
    public static let pidNamespace: String = {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")) ?? ""
    }()

    /// When the kernel booted, in seconds since 1970 (`btime` in `/proc/stat`); nil if unknown.
    public static let bootTime: Double? = {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }()

    /// Clock ticks per second (the unit of a start time).
    public static let ticksPerSecond: Double = {
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        return ticks > 0 ? Double(ticks) : 100
    }()

    /// The wall time (seconds since 1970) a process that started at `start` ticks since boot
    /// started; nil when the boot time is unknown.
    public static func wallTime(ofStart start: UInt64) -> Double? {
        bootTime.map { $0 + Double(start) / ticksPerSecond }
    }
}

/// Who a process is, beyond its pid: the kernel boot and PID namespace it runs in and its start
/// time, which tell it apart from a later process that reused the pid.
public struct ProcessIdentity: Codable, Sendable, Equatable {
    /// The kernel's boot id.
    public var boot: String
    /// The PID namespace.
    public var pidNamespace: String
    /// The start time in clock ticks since boot.
    public var start: UInt64

    public init(boot: String, pidNamespace: String, start: UInt64) {
        self.boot = boot
        self.pidNamespace = pidNamespace
        self.start = start
    }

    /// This process.
    public static let current = ProcessIdentity(
        boot: ProcessTable.bootID, pidNamespace: ProcessTable.pidNamespace, start: ProcessTable.stat(getpid())?.start ?? 0)
}
