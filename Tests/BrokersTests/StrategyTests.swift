import Foundation
import SchedctlBase
import SchedctlTesting
import Testing

@testable import Brokers
@testable import Sandbox

@Suite struct TargetWeightsTests {
    @Test func validatesWeights() throws {
        let w = try TargetWeights(["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!])
        #expect(w.total == 1 && w.cashWeight == 0)
        #expect(throws: BrokerError.self) { try TargetWeights(["VTI": -1]) }
        #expect(throws: BrokerError.self) { try TargetWeights(["VTI": Decimal(string: "0.7")!, "BND": Decimal(string: "0.4")!]) }
        // Rounding slack within epsilon is accepted.
        _ = try TargetWeights(["A": Decimal(string: "0.3333334")!, "B": Decimal(string: "0.3333333")!, "C": Decimal(string: "0.3333334")!])
        let partial = try TargetWeights(["VTI": Decimal(string: "0.5")!, "ZERO": 0])
        #expect(partial.cashWeight == Decimal(string: "0.5") && partial.weights.count == 1)
    }

    @Test func inlineWeights() async throws {
        let src = try InlineWeightsSource(["vti": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!])
        #expect(try await src.targetWeights().weights == ["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!])
        #expect(throws: BrokerError.self) { try InlineWeightsSource(["BAD!": 1]) }
    }

    @Test func fileWeightsJSONAndCSV() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("w.json")
        try Data(#"{"VTI": "0.6", "BND": 0.4}"#.utf8).write(to: json)
        #expect(try await FileWeightsSource(url: json).targetWeights().weights == ["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!])
        let nested = dir.appendingPathComponent("n.json")
        try Data(#"{"weights": {"SPY": "1"}, "nextTradeDate": "2026-02-02"}"#.utf8).write(to: nested)
        let n = try await FileWeightsSource(url: nested).targetWeights()
        #expect(n.weights == ["SPY": 1] && n.nextTradeDate == ISO8601DateFormatter().date(from: "2026-02-02T00:00:00Z"))
        let csv = dir.appendingPathComponent("w.csv")
        try Data("symbol,weight\nVTI,0.6\n# comment\nBND,0.4\n".utf8).write(to: csv)
        #expect(try await FileWeightsSource(url: csv).targetWeights().weights.count == 2)
        let bad = dir.appendingPathComponent("bad.csv")
        try Data("VTI,0.6\nVTI,0.1\n".utf8).write(to: bad)
        do { _ = try await FileWeightsSource(url: bad).targetWeights(); Issue.record("expected an error") } catch let e as BrokerError {
            #expect(e.message.contains("bad.csv:2") && e.message.contains("twice"))
        }
        let over = dir.appendingPathComponent("over.json")
        try Data(#"{"VTI": 0.9, "BND": 0.2}"#.utf8).write(to: over)
        await #expect(throws: BrokerError.self) { _ = try await FileWeightsSource(url: over).targetWeights() }
        await #expect(throws: BrokerError.self) { _ = try await FileWeightsSource(url: dir.appendingPathComponent("missing.csv")).targetWeights() }
    }
}

@Suite struct PennyVaultTests {
    func make(_ sim: PennyVaultSimulator, token: String = "pv-test-token", slug: String = "adm", sleeper: Sleeper = .immediate) -> PennyVaultClient {
        PennyVaultClient(portfolio: slug, baseURL: sim.baseURL, credentials: InMemoryCredentials(["pennyvault/token": token]), sleeper: sleeper, timeout: 10)
    }

    @Test func predictionGivesWeightsAndNextTradeDate() async throws {
        let sim = PennyVaultSimulator()
        try await sim.start(port: 0)
        let w = try await make(sim).targetWeights()
        #expect(w.weights == ["VTI": Decimal(string: "0.6")!, "BND": Decimal(string: "0.4")!])
        #expect(w.nextTradeDate == ISO8601DateFormatter().date(from: "2026-01-02T00:00:00Z"))
        sim.setPortfolio("brk", weights: [("BRK/B", Decimal(string: "0.5")!), ("$CASH", Decimal(string: "0.5")!)])
        #expect(try await make(sim, slug: "brk").targetWeights().weights == ["BRK.B": Decimal(string: "0.5")!])
        let p = try await make(sim).prediction()
        #expect(p.holdings.count == 2 && p.totalMarketValue == 100_000 && p.transactionCount == 0)
        await sim.stop()
    }

    @Test func statusesAreDistinct() async throws {
        let sim = PennyVaultSimulator()
        try await sim.start(port: 0)
        sim.setMode("adm", .recalculating)
        do { _ = try await make(sim).targetWeights(); Issue.record("expected 202") } catch let e as BrokerError {
            #expect(e.isNotReady && e.httpStatus == 202 && e.isRetryable)
        }
        sim.setMode("adm", .missing)
        do { _ = try await make(sim).targetWeights(); Issue.record("expected 404") } catch let e as BrokerError {
            #expect(e.isNotFound && e.message.contains("adm"))
        }
        do { _ = try await make(sim, slug: "nope").targetWeights(); Issue.record("expected 404") } catch let e as BrokerError { #expect(e.isNotFound) }
        sim.setMode("adm", .ready)
        do { _ = try await make(sim, token: "wrong-token-value").targetWeights(); Issue.record("expected 401") } catch let e as BrokerError {
            #expect(e.isAuthenticationFailure && e.httpStatus == 401)
            #expect(e.message.contains("schedctl secrets set pennyvault/token") && !e.message.contains("wrong-token-value"))
        }
        await #expect(throws: BrokerError.self) { _ = try await make(sim, slug: "../etc").targetWeights() }
        await sim.stop()
    }

    @Test func faultsRetryThenSurface() async throws {
        let sim = PennyVaultSimulator()
        try await sim.start(port: 0)
        let sleeps = SleepRecorder()
        sim.enqueueFaults(.status(503), .throttle)
        #expect(try await make(sim, sleeper: sleeps.sleeper).targetWeights().weights.count == 2)
        #expect(sleeps.count == 2)
        sim.enqueueFaults(.status(500), .status(500), .status(500), .status(500))
        do { _ = try await make(sim, sleeper: sleeps.sleeper).targetWeights(); Issue.record("expected 500") } catch let e as BrokerError {
            #expect(e.isServerError)
        }
        sim.enqueueFaults(.dropConnection)
        do { _ = try await make(sim).targetWeights(); Issue.record("expected a dropped connection") } catch let e as BrokerError {
            #expect(e.isTransportError || e.isMalformedResponse)
        }
        sim.enqueueFaults(.malformed)
        do { _ = try await make(sim).targetWeights(); Issue.record("expected malformed") } catch let e as BrokerError { #expect(e.isMalformedResponse) }
        sim.setPortfolio("over", weights: [("A", Decimal(string: "0.8")!), ("B", Decimal(string: "0.8")!)])
        do { _ = try await make(sim, slug: "over").targetWeights(); Issue.record("expected invalid") } catch let e as BrokerError {
            #expect(e.isMalformedResponse)
        }
        sim.setLatency(.milliseconds(10))
        #expect(try await make(sim).targetWeights().weights.count == 2)
        await sim.stop()
        do { _ = try await make(sim).targetWeights(); Issue.record("expected transport error") } catch let e as BrokerError {
            #expect(e.isTransportError || e.isTimeout)
        }
    }
}
