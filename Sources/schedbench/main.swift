import Foundation
import Scheduler

// schedbench: prints performance figures (never pass/fail). Run in release:
//   swift run -c release schedbench [all|foundation|engine|loading|rebalance|history|status|status-page|status-lateness|status-lateness-external]
// and parts of `engine` alone: claims, throughput [slots [full|normal]], lateness [slots], idle;
// store-lifecycle [full|normal]: the store's share of throughput, without the engine.
let arguments = CommandLine.arguments
if arguments.count >= 6, arguments[1] == "renew-worker" {
    try await EngineBenchmarks.renewWorker(database: arguments[2], leases: Int(arguments[3])!, seconds: Double(arguments[4])!, owner: arguments[5])
    exit(0)
}
if arguments.count >= 3, arguments[1] == "load-config" {
    // For profilers: load and validate one configuration file.
    try EngineBenchmarks.loadOnly(arguments[2])
    exit(0)
}
let which = arguments.count > 1 ? arguments[1] : "all"
#if DEBUG
    print("note: a debug build; run 'swift run -c release schedbench' for meaningful figures")
#endif
if which == "all" || which == "foundation" {
    runFoundationBenchmarks()
}
if which == "all" || which == "rebalance" {
    try RebalanceBenchmarks.planning()
}
if which == "all" || which == "engine" || which == "claims" {
    try await EngineBenchmarks.claims()
}
if which == "all" || which == "engine" || which == "throughput" {
    // `schedbench throughput N` runs it at N slots; `schedbench throughput N full` (or `normal`)
    // at that durability only.
    let slots = which == "throughput" && arguments.count > 2 ? Int(arguments[2]) ?? LifecycleBenchmarks.slots : LifecycleBenchmarks.slots
    let only = which == "throughput" && arguments.count > 3 ? Durability(rawValue: arguments[3]) : nil
    for durability in [Durability.full, .normal] where only == nil || only == durability {
        try await LifecycleBenchmarks.throughput(durability: durability, maxConcurrent: slots)
    }
}
if which == "store-lifecycle" {
    // The store's share of `throughput`, without the engine (`schedbench store-lifecycle [full|normal]`).
    let only = arguments.count > 2 ? Durability(rawValue: arguments[2]) : nil
    for durability in [Durability.full, .normal] where only == nil || only == durability {
        try await EngineBenchmarks.storeLifecycle(durability: durability)
    }
}
if which == "all" || which == "engine" || which == "lateness" {
    // The default max_concurrent_runs (8), and a wide one; `schedbench lateness N [normal]` at N
    // slots (and `durability: normal`).
    if which == "lateness", arguments.count > 2, let slots = Int(arguments[2]) {
        let durability: Durability = arguments.count > 3 && arguments[3] == "normal" ? .normal : .full
        try await EngineBenchmarks.lateness(seconds: 15, maxConcurrent: slots, durability: durability)
    } else {
        try await EngineBenchmarks.lateness(seconds: 15, maxConcurrent: ServiceSettings().maxConcurrentRuns)
        try await EngineBenchmarks.lateness(seconds: 15, maxConcurrent: 256)
    }
}
if which == "all" || which == "engine" || which == "idle" {
    try await LifecycleBenchmarks.idle(seconds: 20)
}
if which == "all" || which == "engine" {
    try EngineBenchmarks.renewals()
    try await EngineBenchmarks.startup()
}
if which == "loading" {
    // Loading at scale only: validate 10,000 jobs, start-up with 100,000.
    validateFigure()
    try await EngineBenchmarks.startup()
}
if which == "all" || which == "history" {
    try await HistoryBenchmarks.run()
}
if which == "all" || which == "status" || which == "status-lateness" {
    // The status endpoint with 1,000,000 runs, then fire lateness with and without a client
    // polling it every 100 ms (`status-lateness`: only that).
    if which != "status-lateness" {
        try await StatusBenchmarks.run(jobs: 20)
        try await StatusBenchmarks.run(jobs: 1_000)
    }
    try await EngineBenchmarks.lateness(seconds: 15, maxConcurrent: ServiceSettings().maxConcurrentRuns)
    try await EngineBenchmarks.lateness(seconds: 15, maxConcurrent: ServiceSettings().maxConcurrentRuns, polling: true)
}
if which == "status-page" {
    // The status endpoint with 1,000,000 runs of 1,000 jobs only.
    try await StatusBenchmarks.run(jobs: 1_000)
}
if which == "status-lateness-external" {
    // Fire lateness without a client, then with the endpoint served to a client in another
    // process (`SCHEDBENCH_PORT_FILE` receives the port; `scripts/bench-status-lateness` polls it).
    let portFile = ProcessInfo.processInfo.environment["SCHEDBENCH_PORT_FILE"] ?? "/tmp/schedbench-status-port"
    try await EngineBenchmarks.lateness(seconds: 15, maxConcurrent: ServiceSettings().maxConcurrentRuns)
    try await EngineBenchmarks.lateness(seconds: 15, maxConcurrent: ServiceSettings().maxConcurrentRuns, polling: true, external: portFile)
}
EngineBenchmarks.removeTemporaryDatabases()
