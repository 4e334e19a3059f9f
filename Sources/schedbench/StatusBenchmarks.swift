import Foundation
import Inspection
import Jobs
import Logging
import Scheduler
import ServiceLifecycle
import StatusHTTP

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The status endpoint on a database with 1,000,000 runs (of 20 jobs, and of 1,000): `/`,
/// `/runs/ID`, `/jobs/NAME` and `/metrics`, rendered in process and fetched over loopback.
/// Figures only.
enum StatusBenchmarks {
    static func run(runs: Int = 1_000_000, jobs: Int = 1_000) async throws {
        let path = EngineBenchmarks.temporaryDatabase("status")
        let store = try StoreSchema.open(path: path)
        let now = HistoryBenchmarks.fill(store, runs: runs, jobs: jobs)
        let specs = (0..<jobs).map { JobSpec(name: "job-\($0)", kind: "noop", schedule: Schedule(.interval(seconds: 60, aligned: true, zone: .utc))) }
        _ = try await store.registerJobs(specs, now: now)
        let plan = EngineBenchmarks.plan(specs, database: path)
        let metrics = StatusMetrics()
        let source = StatusSource(store: store, plan: { plan }, wall: { now }, tokens: TokenCache { ([], nil) })
        let server = try StatusServer(
            settings: HTTPSettings(host: "127.0.0.1", port: 0), source: source, metrics: metrics, probe: try WriteProbe(path: path),
            logger: EngineBenchmarks.quiet, pageCache: .zero)
        let pages = try StatusPages(source: source)
        let middle = Int64(runs / 2)

        func median(_ label: String, _ body: () async throws -> Int) async throws {
            var samples: [Duration] = []
            var size = 0
            for _ in 0..<21 {
                let start = ContinuousClock.now
                size = try await body()
                samples.append(ContinuousClock.now - start)
            }
            samples.sort()
            print("status: \(label) (\(size) bytes): median \(samples[10]), worst \(samples.last!)")
        }
        print("status endpoint with \(runs) runs of \(jobs) jobs, rendered in process:")
        try await median("(the reads of / alone: status of \(jobs) jobs)") {
            try await StatusJSON.read(plan: plan, store: store, now: now, tokens: []).jobs.count
        }
        try await median("/ (\(jobs) jobs, 50 recent runs)") { try await pages.index().html.utf8.count }
        try await median("/runs/\(middle)") { try await pages.run(id: middle).html.utf8.count }
        try await median("/jobs/job-\(jobs / 2)") { try await pages.job(named: "job-\(jobs / 2)").html.utf8.count }
        try await median("/metrics") { await server.metricsText().count }

        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: EngineBenchmarks.quiet))
        let serving = Task { try? await group.run() }
        guard let port = await server.port() else {
            print("status: could not listen")
            return
        }
        print("fetched over loopback (URLSession, one connection at a time):")
        for path in ["/", "/runs/\(middle)", "/metrics"] {
            let url = URL(string: "http://127.0.0.1:\(port)\(path)")!
            try await median("GET \(path)") { try await URLSession.shared.data(from: url).0.count }
        }
        await group.triggerGracefulShutdown()
        await serving.value
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }

    /// A client that GETs `/` and `/metrics` of a status endpoint over `store` every 100 ms
    /// while `body` runs (the engine reports to `metrics`). With `portFile`, no client runs here:
    /// the endpoint's port is written to that file for a client in another process.
    static func polling<T>(store: Store, plan: Plan, metrics: StatusMetrics, portFile: String? = nil, _ body: () async throws -> T) async throws -> T {
        let source = StatusSource(store: store, plan: { plan }, tokens: TokenCache { ([], nil) })
        let server = try StatusServer(
            settings: HTTPSettings(host: "127.0.0.1", port: 0), source: source, metrics: metrics, probe: try WriteProbe(path: store.path),
            logger: EngineBenchmarks.quiet)
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: EngineBenchmarks.quiet))
        let serving = Task { try? await group.run() }
        guard let port = await server.port() else { throw CancellationError() }
        if let portFile {
            try "\(port)\n".write(toFile: portFile, atomically: true, encoding: .utf8)
            let result = try await body()
            try? FileManager.default.removeItem(atPath: portFile)
            await group.triggerGracefulShutdown()
            await serving.value
            return result
        }
        let poller = Task {
            var fetched = 0
            while !Task.isCancelled {
                for path in ["/", "/metrics"] {
                    if (try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)) != nil { fetched += 1 }
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return fetched
        }
        let result = try await body()
        poller.cancel()
        print("  (the client fetched \(await poller.value) pages meanwhile)")
        await group.triggerGracefulShutdown()
        await serving.value
        return result
    }
}
