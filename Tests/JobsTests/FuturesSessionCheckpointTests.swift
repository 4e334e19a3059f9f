import Brokers
import Foundation
import GRDB
import Jobs
import Sandbox
import SchedctlTesting
import Scheduler
import Synchronization
import Testing

/// Review L: `try? await persist()` let a session trade on after its checkpoint could not be
/// written (a full disk, a fenced run), and fills it never saved could be counted twice after a
/// takeover.
@Suite("futures-session checkpoint failures", .serialized)
struct FuturesSessionCheckpointTests {
    /// Every checkpoint write is refused (a trigger, as a full disk would refuse it); the figures
    /// a quote changes then cannot be saved: the session stops, sends no order (no liquidation
    /// can be journaled), and the run fails naming the cause.
    @Test func aFailingCheckpointStopsTheSessionAndFailsTheRun() async throws {
        let h = try await SessionHarness()
        _ = try await h.client.place(try OrderRequest(symbol: "ESZ5", side: .buy, quantity: 1, type: .market, key: .random()), account: "DEMO123456")
        let engine = try await h.startSession(try h.job(onStart: #"[]"#))
        // The session has opened (its first status is out, so its opening checkpoint is saved)
        // before the checkpoint table starts refusing writes.
        #expect(await h.statusShows { $0 != "{}" && !$0.isEmpty }, "the session opened")
        try await h.store.writer.write { db in
            for event in ["INSERT", "UPDATE"] {
                try db.execute(
                    sql: "CREATE TRIGGER refuse_\(event.lowercased()) BEFORE \(event) ON checkpoint BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
            }
        }
        // The held contract's price keeps moving: the session's figures change and must be saved.
        // (Every 200th poll the broker also drops the sockets: the reconnect is a change to save
        // too, should quotes stop reaching a session on a loaded machine.)
        let moves = Mutex(0)
        let stopped = await polled {
            let n = moves.withLock { n in
                n += 1
                return n
            }
            h.sim.setPrice(symbol: "ESZ5", 5010 + Decimal(n % 2))
            if n % 200 == 0 { h.sim.dropConnections() }
            h.sessionClock.advance(by: .seconds(1))
            return await h.sessionState() == "finished"
        }
        #expect(stopped, "the session stopped before its stop time")
        guard stopped else {
            await engine.abandonForTesting()
            await h.close()
            return
        }
        await engine.waitForIdle()
        let run = try #require(try await h.store.history(job: "es-day", limit: 1).first)
        #expect(run.state == .failed && run.error?.contains("could not be saved") == true, "\(run.state) \(run.error ?? "")")
        #expect(h.sim.placedOrderBodies.count == 1, "only the position held before: the session sent no order")
        await h.close()
    }
}
