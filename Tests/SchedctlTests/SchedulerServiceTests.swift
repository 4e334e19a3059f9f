import Foundation
import Jobs
import Logging
import SchedctlService
import SchedctlTesting
import Scheduler
import ServiceLifecycle
import Testing

/// `serve`'s composition as a library: one plan source, a reload that publishes once, and every
/// long-lived part a service of the group.
@Suite("SchedulerService")
struct SchedulerServiceTests {
    let directory = TemporaryDirectory(prefix: "schedctl-service")

    func write(_ body: String) throws -> String {
        let path = directory.file("jobs.yaml")
        try ("database: \(directory.file("db.sqlite"))\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func service(_ path: String) async throws -> SchedulerService {
        let loader = ConfigLoader(catalog: JobsRegistry.standard.catalog)
        let plan = try loader.load(file: path)
        let store = try StoreSchema.open(path: plan.database)
        return try await SchedulerService(
            configPath: path, plan: plan, store: store, secrets: NoSecrets(), load: { try loader.load(file: $0) },
            kinds: { _ in JobsRegistry.standard.jobKinds() },
            dates: { source in StrategyTradeDates(store: store, secrets: NoSecrets(), plan: { source.current }) }, trapHangups: false,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    @Test("a reload publishes the new plan once to every follower; an invalid one changes nothing")
    func reloadPublishesOnce() async throws {
        let path = try write("jobs:\n  a: { type: noop, schedule: { every: 1h } }\n")
        let service = try await service(path)
        var followed = service.source.updates().makeAsyncIterator()
        #expect(await followed.next()?.generation == 1)

        _ = try write("jobs:\n  a: { type: noop, schedule: { every: 1h } }\n  b: { type: noop, schedule: { every: 2h } }\n")
        #expect(await service.reload())
        let second = await followed.next()
        #expect(second?.generation == 2 && second?.plan.jobs.map(\.name) == ["a", "b"])

        _ = try write("jobs:\n  a: { type: nope, schedule: { every: 1h } }\n")
        #expect(await service.reload() == false)
        #expect(service.source.snapshot.generation == 2 && service.source.current.jobs.map(\.name) == ["a", "b"])
    }

    @Test("every long-lived part is a service of the group: engine, retention, alerts, plan followers, refresher")
    func everythingIsAService() async throws {
        let service = try await service(try write("jobs:\n  a: { type: noop, schedule: { every: 1h } }\n"))
        let names = service.services().map { String(describing: type(of: $0)) }
        #expect(names == ["Engine", "RetentionService", "AlertDispatcher", "PlanFollowers", "StrategyDateRefresher"])
    }
}
