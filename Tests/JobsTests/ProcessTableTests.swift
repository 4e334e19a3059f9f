import Foundation
import SchedctlBase
import Testing

@testable import Jobs

@Suite("exec process identity")
struct ProcessTableTests {
    @Test func statLinesParseEvenWithParenthesesInTheName() throws {
        let line = "4242 (we ird) name) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 0 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
        let stat = try #require(ProcessTable.parse(line))
        #expect(stat == ProcessTable.Stat(state: "S", pgrp: 4240, start: 987_654))
        #expect(ProcessTable.parse("garbage") == nil)
    }

    @Test func aGroupWhoseLeaderPidWasReusedIsNotTouched() throws {
        #if os(Linux)
            let me = getpid()
            let group = try #require(ProcessTable.stat(me)).pgrp
            let leaderStart = ProcessTable.stat(group)?.start ?? 0
            let exact = ProcessGroupIdentity(host: "h", boot: "b", pgid: group, start: leaderStart, generation: 1, attempt: 1)
            #expect(ProcessTable.survivors(of: exact).contains(me))
            if ProcessTable.stat(group) != nil {
                // The same pid with another start time is a later process: nothing survives of that group.
                let reused = ProcessGroupIdentity(host: "h", boot: "b", pgid: group, start: leaderStart &+ 1, generation: 1, attempt: 1)
                #expect(ProcessTable.survivors(of: reused).isEmpty)
            }
        #endif
    }

    @Test func checkpointsRoundTrip() {
        let identity = ProcessGroupIdentity(host: "h", boot: "b", pgid: 7, start: 9, generation: 3, attempt: 2)
        #expect(ExecCheckpoint.decode(ExecCheckpoint(running: identity).text) == ExecCheckpoint(running: identity))
        #expect(ExecCheckpoint.decode(ExecCheckpoint(running: nil).text)?.running == nil)
        #expect(ExecCheckpoint.decode("not json") == nil)
    }
}
