import Foundation
import SchedctlTesting
import Testing

@testable import Sandbox

/// A strategy for the kill test: logs every line schedctl sends, and at every session start (the
/// first and the resumed one) emits the same two intents, so a resumed session replays them.
let replayingStrategy = """
    import json, os, sys
    log = open(os.environ["STRATEGY_LOG"], "a")
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        log.write(line)
        log.flush()
        m = json.loads(line)
        if m.get("type") == "session" and m.get("event") == "start":
            for intent in [
                {"type": "order", "side": "buy", "qty": 1, "order": "limit", "price": 4000, "tag": "entry-1"},
                {"type": "order", "side": "buy", "qty": 1, "order": "market", "tag": "entry-2"},
            ]:
                sys.stdout.write(json.dumps(intent) + "\\n")
                sys.stdout.flush()
    """

extension SessionCLITests {
    /// `serve` runs a session whose strategy places two orders, is killed with SIGKILL once the
    /// simulator has an order, and a second `serve` takes the session over: the restarted
    /// strategy replays its intents, and the simulator's own log shows each `clOrdId` once.
    @Test func serveKilledMidSessionIsResumedWithoutADoubledOrder() async throws {
        let sim = TradovateSimulator()
        try await sim.start(port: 0)
        defer { Task { await sim.stop() } }
        let directory = TemporaryDirectory(prefix: "schedctl-session-kill")
        try replayingStrategy.write(toFile: directory.file("strategy.py"), atomically: true, encoding: .utf8)
        let strategyLog = directory.file("strategy.log")
        let config = try await configure(
            directory, sim,
            job: """
                  es-day:
                    type: futures-session
                    broker: tv
                    schedule: { every: 1d }
                    stop: 1h
                    symbols: [ESZ5]
                    risk: { daily_loss_limit: 5000, max_position: 4, max_orders_per_minute: 20 }
                    flatten_at_stop: true
                    strategy: { command: ["python3", "strategy.py"], env: { STRATEGY_LOG: "\(strategyLog)" }, workdir: "\(directory.path)" }
                """, service: "service: { lease: 2s, shutdown_grace: 1s, log_level: notice }")
        func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
            try #require(try await pollUntil(condition), "timed out waiting for \(what)")
        }
        func strategyLines() -> [[String: Any]] {
            ((try? String(contentsOfFile: strategyLog, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
            }
        }
        var serve = try SchedctlBinary.serve(config: config, log: directory.file("serve.log"))
        defer { kill(serve.processIdentifier, SIGKILL) }
        try await waitFor("serve to register") {
            let status = try await SchedctlBinary.run(["status", "--json", "--config", config])
            let object = try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            return (object?["instances"] as? [Any])?.isEmpty == false
        }
        let queued = try await SchedctlBinary.run(["run", "es-day", "--config", config])
        #expect(queued.status == 0, "\(queued.stderr)")
        let runID = try #require(queued.stdout.split(separator: " ").first { $0.hasPrefix("#") }.map { String($0.dropFirst()) })

        try await waitFor("the first order at the simulator") { !sim.placedOrderBodies.isEmpty }
        kill(serve.processIdentifier, SIGKILL)
        try await exited(serve)
        serve = try SchedctlBinary.serve(config: config, log: directory.file("serve.log"))

        // The second process takes the session over; its strategy replays both intents.
        try await waitFor("the resumed session") {
            strategyLines().contains { $0["type"] as? String == "session" && $0["event"] as? String == "start" && $0["resumed"] as? Bool == true }
        }
        try await waitFor("both replayed intents answered") {
            let lines = strategyLines()
            guard let start = lines.lastIndex(where: { $0["type"] as? String == "session" && $0["resumed"] as? Bool == true }) else { return false }
            let answered = Set(lines[start...].filter { ["result", "reject"].contains($0["type"] as? String) }.compactMap { $0["tag"] as? String })
            return answered.isSuperset(of: ["entry-1", "entry-2"])
        }
        let answers = strategyLines().filter { $0["type"] as? String == "result" || $0["type"] as? String == "reject" }
        #expect(!answers.contains { $0["type"] as? String == "reject" }, "\(answers)")
        // entry-1 reached the broker before the kill: the replay is answered from the journal (or
        // from the broker's commands by clOrdId), never sent again.
        let resumedAt = try #require(strategyLines().lastIndex { $0["type"] as? String == "session" && $0["resumed"] as? Bool == true })
        let replayed = strategyLines()[resumedAt...].first { $0["type"] as? String == "result" && $0["tag"] as? String == "entry-1" }
        #expect(replayed?["status"] as? String == "duplicate", "\(replayed ?? [:])")

        let stop = try await SchedctlBinary.run(["session", "stop", "es-day", "--config", config])
        #expect(stop.status == 0, "\(stop.stderr)")
        var history = ""
        try await waitFor("the session report") {
            history = try await SchedctlBinary.run(["history", "--config", config]).stdout
            return history.contains("session stopped on request")
        }
        let shown = try await SchedctlBinary.run(["show", runID, "--json", "--config", config])
        let shownText = try await SchedctlBinary.run(["show", runID, "--config", config]).stdout
        let status = try await SchedctlBinary.run(["session", "status", "--json", "--config", config])
        kill(serve.processIdentifier, SIGTERM)
        try await exited(serve)

        // The simulator's own log: two intents, two placements, each clOrdId once.
        let clOrdIDs = sim.placedOrderBodies.compactMap { $0["clOrdId"] as? String }
        #expect(clOrdIDs.count == 2 && Set(clOrdIDs).count == 2, "a clOrdId reached the broker twice: \(clOrdIDs)")
        #expect(sim.placedOrderBodies.count == 2 && sim.acceptedOrderCount == 3, "the two orders and the liquidation at the stop")
        #expect(sim.workingOrderCount == 0, "the resumed session cancelled the working order at the stop")
        #expect(sim.netPosition(symbol: "ESZ5") == 0, "the resumed session flattened at the stop")
        #expect(history.contains("succeeded") && history.contains("2 orders"), "\(history)")
        let takeovers = shownText.split(separator: "\n").first { $0.contains("takeovers") }.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) }
        #expect((takeovers ?? 0) >= 1, "the second process took the run over: \(shownText.prefix(400))")
        let run = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any], "\(shown.stderr)")
        let events = (run["events"] as? [[String: Any]]) ?? []
        let report = try #require(events.first { $0["kind"] as? String == "session-report" }?["message"] as? String, "\(events)")
        #expect(report.contains("\"orders\":2") && report.contains("\"flattened\":true"), "\(report)")
        #expect(status.stdout.contains("\"state\" : \"finished\"") && status.stdout.contains("\"trade_date\" : \"20"), "\(status.stdout)")
    }
}
