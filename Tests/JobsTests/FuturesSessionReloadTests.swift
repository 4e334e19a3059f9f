import Foundation
import Jobs
import Logging
import SchedctlTesting
import Scheduler
import Testing

@Suite("futures-session follows a reload")
struct FuturesSessionReloadTests {
    /// Futures review #15: the session's calendars were copied once when the kinds were built, so
    /// a reload never reached a running session. Now the plan source hands it the new plan.
    @Test("a reload that adds an early close moves a running session's stop to it")
    func aReloadedEarlyCloseMovesTheRunningSessionsStop() async throws {
        let h = try await SessionHarness()
        var job = try h.job()
        job.options["stop"] = .map(["market": .string("CME"), "at": .string("close"), "offset": .duration(.zero)])
        job = try JobsRegistry.standard.parsed(job)
        var service = ServiceSettings()
        service.leaseDuration = .seconds(10)
        service.shutdownGrace = .zero
        let plan = Plan(
            source: "test.yaml", timezone: .utc, database: h.store.path, secrets: SecretsSettings(), brokers: [:], strategies: [:], notifiers: [:],
            calendars: [.cme: Market.cme.calendar()], service: service, jobs: [job])
        let source = PlanSource(plan)
        var resources = h.resources
        resources.plan = source
        let engine = Engine(
            store: h.store, plan: plan, registry: JobKindRegistry([FuturesSessionJob(resources: resources)]),
            logger: Logger(label: "test", factory: { LineLogHandler(label: $0, format: .logfmt, level: .error) }), instanceID: "a", wall: h.wall.source,
            clock: h.engineClock, random: { 0.5 })
        try await engine.start()
        h.wall.set("2026-11-23T16:00:00Z")
        await engine.tick()
        #expect(await polled { await h.sessionState() == "running" }, "the session opened; its stop is the CME close, 16:00 CT (22:00Z)")

        // The reload: an early close at 10:30 CT (16:30Z) on the session's trade date.
        var reloaded = plan
        let day = try #require(LocalDate(year: 2026, month: 11, day: 23))
        reloaded.calendars[.cme] = Market.cme.calendar(overrides: CalendarOverrides(closes: [day: 10 * 3600 + 30 * 60]))
        source.publish(reloaded)
        h.wall.set("2026-11-23T16:30:01Z")
        let ended = await polled {
            h.sessionClock.advance(by: .seconds(1))
            return await h.sessionState() == "finished"
        }
        #expect(ended, "the running session stopped at the reloaded close")
        if !ended {
            h.wall.set("2026-11-23T22:00:01Z")
            _ = await polled {
                h.sessionClock.advance(by: .seconds(1))
                return await h.sessionState() == "finished"
            }
        }
        await engine.waitForIdle()
        let run = try #require(try await h.store.history(job: "es-day", limit: 1).first)
        #expect(run.summary?.hasPrefix("session stopped at 2026-11-23T16:30:00Z") == true, "\(run.summary ?? "")")
        await h.close()
    }
}
