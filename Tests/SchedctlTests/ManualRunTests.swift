import Foundation
import Logging
import SchedctlService
import SchedctlTesting
import Scheduler
import Testing

/// `schedctl run`'s dispatch when no service was live as the run was queued: a process that takes
/// the run in between keeps it. The run is neither cancelled under it nor reported as not
/// executed, and it executes once.
@Suite("schedctl run: where a manual run executes")
struct ManualRunTests {
    let directory = TemporaryDirectory(prefix: "schedctl-manual-run")
    let job = JobSpec(name: "once", kind: "scripted", schedule: Schedule(.interval(seconds: 86_400, aligned: true, zone: .utc)))

    func engine(_ store: Store, kind: ScriptedJob, id: String) -> Engine {
        var service = ServiceSettings()
        service.leaseDuration = .seconds(30)
        let plan = Plan(
            source: "test.yaml", timezone: .utc, database: store.path, secrets: SecretsSettings(), brokers: [:], strategies: [:], notifiers: [:],
            calendars: [:], service: service, jobs: [job])
        return Engine(
            store: store, plan: plan, registry: JobKindRegistry([kind]),
            logger: Logger(label: "test", factory: { LineLogHandler(label: $0, format: .logfmt, level: .error) }), instanceID: id)
    }

    @Test func aRunTakenByAnotherProcessMeanwhileIsNeitherCancelledNorReportedAsNotExecuted() async throws {
        let store = try Store(path: directory.file("state.sqlite"))
        let kind = ScriptedJob(behaviour: .block)
        let id = try await store.enqueueManualRun(job: job, now: Date(), by: "test")
        // Another process (a service that just started) leases the run and executes it; it
        // blocks until released.
        let other = engine(store, kind: kind, id: "service-b")
        let elsewhere = Task { try await other.executeNow(runID: id) }
        #expect(await polled { kind.blockedCount == 1 })

        let outcome = try await ManualRun.dispatch(runID: id, store: store) { engine(store, kind: kind, id: "cli") }
        #expect(outcome == .queued(for: ["service-b"], meanwhile: true))
        #expect(try await store.run(id: id)?.run.state == .running)

        kind.release()
        #expect(try await elsewhere.value)
        #expect(try await store.run(id: id)?.run.state == .succeeded)
        #expect(kind.attempts.count == 1)
    }

    @Test func aFreeRunExecutesHereAndABusyOneIsCancelledUnexecuted() async throws {
        let store = try Store(path: directory.file("state.sqlite"))
        let kind = ScriptedJob(behaviour: .succeed)
        let id = try await store.enqueueManualRun(job: job, now: Date(), by: "test")
        #expect(try await ManualRun.dispatch(runID: id, store: store) { engine(store, kind: kind, id: "cli") } == .executedHere)
        #expect(try await store.run(id: id)?.run.state == .succeeded)
        #expect(kind.attempts.count == 1)

        // Another run of the job holds it (`overlap: skip`) and no service is live: the second
        // run cannot start, is cancelled, and nothing executes it.
        kind.set(.block)
        let holding = try await store.enqueueManualRun(job: job, now: Date(), by: "test")
        let other = engine(store, kind: kind, id: "cli-1")
        let first = Task { try await other.executeNow(runID: holding) }
        #expect(await polled { kind.blockedCount == 1 })
        let refused = try await store.enqueueManualRun(job: job, now: Date(), by: "test")
        guard case .notExecuted(let why) = try await ManualRun.dispatch(runID: refused, store: store, makeEngine: { engine(store, kind: kind, id: "cli-2") })
        else {
            Issue.record("the busy run was not refused")
            return
        }
        #expect(why.contains("could not start here"))
        #expect(try await store.run(id: refused)?.run.state == .cancelled)
        kind.release()
        #expect(try await first.value)
        #expect(kind.attempts.count == 2)
    }
}
