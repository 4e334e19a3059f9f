import Foundation
import SchedctlBase
import SchedctlTesting
import Synchronization
import Testing

@testable import Brokers
@testable import Sandbox

/// Consumes a socket's events once and lets tests wait for one that matches.
final class EventLog: Sendable {
    let events = Mutex<[TradovateEvent]>([])
    let finished = Mutex(false)
}

final class EventCollector: Sendable {
    let log = EventLog()
    let task: Task<Void, Never>
    var finished: Bool { log.finished.withLock { $0 } }

    init(_ ws: TradovateWebSocket) {
        let log = self.log
        task = Task {
            for await e in ws.events { log.events.withLock { $0.append(e) } }
            log.finished.withLock { $0 = true }
        }
    }

    func count(_ match: (TradovateEvent) -> Bool) -> Int { log.events.withLock { $0.filter(match).count } }

    /// Polls (10 ms) until `count(match) >= n`; false after 20 s.
    func wait(for n: Int = 1, _ match: @escaping (TradovateEvent) -> Bool) async -> Bool {
        (try? await pollUntil(within: 20, every: .milliseconds(10)) { count(match) >= n }) ?? false
    }
}

func isConnected(_ e: TradovateEvent) -> Bool { if case .connected = e { return true } else { return false } }
func isDisconnected(_ e: TradovateEvent) -> Bool { if case .disconnected = e { return true } else { return false } }
func isQuote(_ price: Decimal) -> (TradovateEvent) -> Bool {
    { e in if case .quote(let q) = e { return q.last == price } else { return false } }
}
func isProps(_ type: String, containing text: String = "") -> (TradovateEvent) -> Bool {
    { e in
        if case .props(let p) = e {
            return p.entity.entityType == type && (text.isEmpty || String(decoding: p.entity.json, as: UTF8.self).contains(text))
        }
        return false
    }
}

/// Real-time sockets: the watchdog leaves room for a loaded 2-core machine running every suite at
/// once (a 1 s watchdog fired there); the watchdog test sets its own limit on a manual clock.
let fastWS = TradovateWebSocketConfiguration(
    heartbeatInterval: .milliseconds(40), serverSilenceTimeout: .seconds(3),
    requestTimeout: .seconds(5), connectTimeout: .seconds(3), reconnectBase: .milliseconds(20), reconnectCap: .milliseconds(200))

struct WSHarness {
    let sim: TradovateSimulator
    let auth: TradovateAuth
    let ws: TradovateWebSocket
    let events: EventCollector

    static func make(
        _ config: TradovateWebSocketConfiguration = fastWS, serverHeartbeat: Duration = .milliseconds(40), clientTimeout: TimeInterval = 5,
        marketData: Bool = false, timers: ManualClock? = nil
    ) async throws -> WSHarness {
        // With `timers`, the server's and the client's socket timers share one manual clock.
        let sim = timers.map { TradovateSimulator(timers: $0) } ?? TradovateSimulator()
        var config = config
        if let timers { config.clock = timers }
        try await sim.start(port: 0)
        sim.setHeartbeat(interval: serverHeartbeat, clientTimeout: clientTimeout)
        let auth = TradovateAuth(configuration: tvConfig(sim), credentials: tvSecrets, sleeper: .immediate)
        let ws = TradovateWebSocket(url: marketData ? sim.marketDataURL : sim.webSocketURL, auth: auth, configuration: config)
        let events = EventCollector(ws)
        await ws.start()
        return WSHarness(sim: sim, auth: auth, ws: ws, events: events)
    }

    func close() async {
        await ws.stop()
        await sim.stop()
    }
}

@Suite(.serialized) struct TradovateWebSocketTests {
    @Test func backoffIsExponentialAndCapped() {
        let c = TradovateWebSocketConfiguration(reconnectBase: .milliseconds(500), reconnectCap: .seconds(30))
        #expect(
            (1...8).map { c.backoff(attempt: $0) } == [
                .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30),
            ])
        #expect(c.backoff(attempt: 200) == .seconds(30))
    }

    @Test func authorizesSyncsAndReceivesPropsEvents() async throws {
        let h = try await WSHarness.make()
        #expect(await h.events.wait(isConnected))
        let sync = try await h.ws.syncRequest(userID: 7001)
        #expect(sync.accounts.first?.name == "DEMO123456")
        // Requests by id over the socket.
        let r = try await h.ws.request("account/list")
        #expect(r.status == 200 && (try? r.decode([TradovateAccount].self))?.count == 1)
        let missing = try await h.ws.request("contract/find", query: "name=NOPE")
        #expect(missing.status == 404)
        // An order placed over REST shows up as props events on the socket.
        let tv = TradovateClient(auth: h.auth)
        let placed = try await tv.place(try OrderRequest(symbol: "ESZ5", side: .buy, quantity: 1, type: .market, key: .random()), account: "DEMO123456")
        #expect(await h.events.wait(isProps("order", containing: "\"Filled\"")))
        #expect(await h.events.wait(isProps("position")))
        #expect(h.events.count(isProps("order", containing: placed.orderID)) >= 1)
        await h.close()
    }

    /// Review L: events nobody has read yet are kept up to `eventBuffer`; past it the oldest is
    /// dropped, and a fresh snapshot follows, so a fill dropped unread is still learned.
    @Test func eventsDroppedUnreadAreFollowedByAReSync() async throws {
        var config = fastWS
        config.eventBuffer = 3
        let sim = TradovateSimulator()
        try await sim.start(port: 0)
        sim.setHeartbeat(interval: .milliseconds(40), clientTimeout: 5)
        let auth = TradovateAuth(configuration: tvConfig(sim), credentials: tvSecrets, sleeper: .immediate)
        let ws = TradovateWebSocket(url: sim.webSocketURL, auth: auth, configuration: config)
        await ws.start()
        _ = try await ws.syncRequest(userID: 7001)
        // Nobody reads the events: three filled orders make far more than three props.
        let tv = TradovateClient(auth: auth)
        for _ in 0..<3 {
            _ = try await tv.place(try OrderRequest(symbol: "ESZ5", side: .buy, quantity: 1, type: .market, key: .random()), account: "DEMO123456")
        }
        _ = try await ws.request("account/list")  // answered after the orders' props
        let events = EventCollector(ws)
        #expect(
            await events.wait { e in
                if case .resynced(let snapshot) = e { return snapshot.fills.count == 3 } else { return false }
            }, "a snapshot with the three fills followed the drop")
        await ws.stop()
        await sim.stop()
    }

    @Test func quotesStreamAndHeartbeatsKeepTheConnection() async throws {
        let clock = ManualClock()
        let h = try await WSHarness.make(clientTimeout: 1, marketData: true, timers: clock)
        try await h.ws.subscribeQuote(symbol: "ESZ5")
        #expect(await h.events.wait(isQuote(Decimal(string: "5000.25")!)))
        let q = h.events.log.events.withLock { $0 }.compactMap { e -> TradovateQuote? in if case .quote(let q) = e { return q } else { return nil } }.first
        #expect(q?.contractID == 3001 && q?.bid == 5000 && q?.ask == Decimal(string: "5000.5") && q?.bidSize == 7)
        h.sim.setPrice(symbol: "ESZ5", Decimal(string: "5001.75")!)
        #expect(await h.events.wait(isQuote(Decimal(string: "5001.75")!)))
        // 1.6 s passes on the shared clock, a heartbeat interval at a time: longer than the
        // server's 1 s client timeout, and the client's heartbeats keep the socket alive.
        for _ in 0..<40 {
            let sent = await h.ws.heartbeatsSent
            clock.advance(by: .milliseconds(40))
            #expect(await polled { await h.ws.heartbeatsSent > sent })
        }
        #expect(await h.ws.heartbeatsSent >= 40)
        #expect(h.events.count(isDisconnected) == 0)
        #expect(h.sim.webSocketConnectCount == 1)
        try await h.ws.unsubscribeQuote(symbol: "ESZ5")
        h.sim.setPrice(symbol: "ESZ5", Decimal(string: "5002")!)
        try await Task.sleep(for: .milliseconds(100))
        #expect(h.events.count(isQuote(5002)) == 0)
        await #expect(throws: BrokerError.self) { try await h.ws.subscribeQuote(symbol: "NOPE9") }
        // The market-data socket serves md/* only.
        await #expect(throws: BrokerError.self) { try await h.ws.syncRequest(userID: 7001) }
        #expect(h.sim.marketDataConnectCount == 1)
        await h.close()
    }

    @Test func droppedSocketReconnectsAndResubscribes() async throws {
        let h = try await WSHarness.make()
        let md = TradovateWebSocket(url: h.sim.marketDataURL, auth: h.auth, configuration: fastWS)
        let quotes = EventCollector(md)
        await md.start()
        try await h.ws.syncRequest(userID: 7001)
        try await md.subscribeQuote(symbol: "MNQZ5")
        #expect(await quotes.wait(isQuote(Decimal(string: "21000.5")!)))
        h.sim.dropConnections()
        #expect(await h.events.wait(isDisconnected))
        #expect(await h.events.wait(for: 2, isConnected))
        #expect(await quotes.wait(for: 2, isConnected))
        #expect(await quotes.wait(for: 2, isQuote(Decimal(string: "21000.5")!)))  // re-subscribed: snapshot quote again
        h.sim.setPrice(symbol: "MNQZ5", Decimal(string: "21010")!)
        #expect(await quotes.wait(isQuote(21010)))
        let tv = TradovateClient(auth: h.auth)
        _ = try await tv.place(try OrderRequest(symbol: "MNQZ5", side: .sell, quantity: 1, type: .market, key: .random()), account: "DEMO123456")
        #expect(await h.events.wait(isProps("order")))
        #expect(h.sim.webSocketConnectCount == 4 && h.sim.loginCount == 1)
        await md.stop()
        await h.close()
    }

    /// The heartbeat and the watchdog run on a manual clock: the server stops its `h` frames,
    /// the test moves the clock past the silence limit, and the socket reconnects. The server's
    /// own client timeout is an hour, so only the watchdog can end the connection.
    @Test func watchdogReconnectsWhenServerHeartbeatsStop() async throws {
        let clock = ManualClock()
        var config = fastWS
        config.clock = clock
        config.serverSilenceTimeout = .seconds(1)
        let h = try await WSHarness.make(config, clientTimeout: 3600)
        #expect(await h.events.wait(isConnected))
        #expect(await h.ws.heartbeatsSent == 0, "heartbeats follow the injected clock")
        #expect(
            await polled {
                clock.advance(by: .milliseconds(40))
                return await h.ws.heartbeatsSent >= 1
            }, "a heartbeat once the clock moves")
        h.sim.setSendHeartbeats(false)
        // Half the 1 s silence limit: still connected, still heartbeating.
        let sent = await h.ws.heartbeatsSent
        clock.advance(by: .milliseconds(500))
        #expect(await polled { await h.ws.heartbeatsSent > sent })
        #expect(h.events.count(isDisconnected) == 0)
        // Past it: the watchdog gives up on the silent server and reconnects.
        #expect(
            await polled {
                clock.advance(by: .milliseconds(40))
                return h.events.count(isDisconnected) >= 1
            })
        h.sim.setSendHeartbeats(true)
        #expect(
            await polled {
                clock.advance(by: .milliseconds(40))
                return h.events.count(isConnected) >= 2
            })
        #expect(await h.ws.connectionCount >= 2 && h.sim.webSocketConnectCount >= 2)
        await h.close()
    }

    @Test func serverDropsAClientThatStopsHeartbeating() async throws {
        var config = fastWS
        config.heartbeatInterval = .milliseconds(300)  // slower than the server's 0.1 s timeout
        config.serverSilenceTimeout = .seconds(5)
        let clock = ManualClock()
        let h = try await WSHarness.make(config, clientTimeout: 0.1, timers: clock)
        #expect(await h.events.wait(isConnected))
        #expect(
            await polled {
                clock.advance(by: .milliseconds(40))
                return h.events.count(isDisconnected) >= 1
            }, "the server dropped the client past its 0.1 s timeout")
        #expect(h.sim.webSocketConnectCount >= 1)
        await h.close()
    }

    @Test func closeFrameAndExpiredTokenReconnectWithFreshLogin() async throws {
        let h = try await WSHarness.make()
        #expect(await h.events.wait(isConnected))
        h.sim.closeConnections()
        #expect(await h.events.wait(for: 2, isConnected))
        h.sim.expireTokens()
        h.sim.dropConnections()
        // The stale token is refused at authorize, invalidated, and the next attempt signs in again.
        #expect(await h.events.wait(for: 3, isConnected))
        #expect(h.sim.loginCount == 2)
        await h.close()
    }

    @Test func givesUpAfterConsecutiveFailuresAndFailsRequests() async throws {
        var config = fastWS
        config.maxConsecutiveFailures = 2
        config.requestTimeout = .seconds(3)
        let h = try await WSHarness.make(config)
        #expect(await h.events.wait(isConnected))
        await h.sim.stop()
        #expect(try await pollUntil(within: 10, every: .milliseconds(10)) { h.events.finished })
        await #expect(throws: BrokerError.self) { _ = try await h.ws.request("account/list") }
        await h.ws.stop()
    }

    /// Review #6: a sign-in penalty longer than the wait cap is temporary. The socket pauses until
    /// it lifts (its state says why), then signs in and connects; it is never stopped for good.
    @Test func aTemporarySignInBlockPausesTheSocketUntilItLifts() async throws {
        let timers = ManualClock()
        let now = Mutex(Date())
        let wall = WallClock { now.withLock { $0 } }
        let sim = TradovateSimulator(clock: wall, timers: timers)
        try await sim.start(port: 0)
        sim.setHeartbeat(interval: .milliseconds(40), clientTimeout: 3600)
        sim.enqueueLoginPenalty(seconds: 600)
        let auth = TradovateAuth(configuration: tvConfig(sim), credentials: tvSecrets, clock: wall, sleeper: .immediate)
        var config = fastWS
        config.clock = timers
        let ws = TradovateWebSocket(url: sim.webSocketURL, auth: auth, configuration: config)
        let events = EventCollector(ws)
        await ws.start()
        #expect(await events.wait(isDisconnected), "the blocked sign-in is reported")
        #expect(
            await polled {
                if case .paused(_, let reason) = await ws.state { return reason.contains("penalty") }
                return false
            }, "paused, with the reason")
        #expect(!events.finished, "not stopped for good")
        let before = sim.loginCount
        #expect(
            await polled {
                // Time moves only while the socket is paused: a 30 s step while it connects would
                // outlast its 3 s silence watchdog and drop the connection the test looks at.
                if events.count(isConnected) >= 1 { return true }
                if case .paused = await ws.state {
                    now.withLock { $0 = $0.addingTimeInterval(30) }
                    timers.advance(by: .seconds(30))
                }
                return events.count(isConnected) >= 1
            }, "connected once the block lifted")
        #expect(sim.loginCount - before == 1 && sim.webSocketConnectCount >= 1, "one sign-in, after the block")
        #expect(await ws.state == .connected)
        await ws.stop()
        await sim.stop()
    }

    /// Review #6: an `authorize` refused with anything but 401 (an incident's 500) keeps the
    /// shared token: the socket reconnects with it, no second sign-in.
    @Test func aNon401AuthorizeKeepsTheSharedToken() async throws {
        let h = try await WSHarness.make()
        #expect(await h.events.wait(isConnected))
        h.sim.refuseNextAuthorize(status: 500)
        h.sim.dropConnections()
        #expect(await h.events.wait(for: 2, isConnected))
        #expect(h.sim.loginCount == 1, "no sign-in for a 500 at authorize")
        await h.close()
    }

    /// Review #17: a re-sync refused after a reconnect is retried until the snapshot arrives.
    @Test func aFailedResyncAfterAReconnectIsRetried() async throws {
        let h = try await WSHarness.make()
        #expect(await h.events.wait(isConnected))
        try await h.ws.syncRequest(userID: 7001)
        h.sim.refuseSocketRequests(to: "user/syncrequest", status: 500, count: 2)
        h.sim.dropConnections()
        #expect(await h.events.wait(for: 2, isConnected))
        #expect(await h.events.wait { if case .resynced = $0 { return true } else { return false } }, "the re-sync was retried")
        #expect(h.sim.syncRequestCount == 2, "the first sync and the retried one were served")
        await h.close()
    }

    /// Review #4(2)/#19 (coverage; it passed before any change here): when the server refuses the
    /// market-data token after its tokens expired, the market-data socket gets a new one by signing
    /// in again instead of retrying the same token forever.
    @Test func aRefusedMarketDataTokenIsRotated() async throws {
        let h = try await WSHarness.make(marketData: true)
        #expect(await h.events.wait(isConnected))
        h.sim.expireTokens()
        h.sim.dropConnections()
        #expect(await h.events.wait(for: 2, isConnected), "reconnected with a new md token")
        #expect(h.sim.loginCount == 2)
        await h.close()
    }

    /// Issue 18 ("a refused market-data token is rotated"): a market-data socket that authorizes
    /// with `mdAccessToken` and has only that token refused (the access token still valid) gets a
    /// new pair by signing in again, instead of retrying the refused token forever.
    @Test func aRefusedMarketDataTokenAloneIsRotated() async throws {
        var config = fastWS
        config.useMarketDataToken = true
        let h = try await WSHarness.make(config, marketData: true)
        #expect(await h.events.wait(isConnected))
        h.sim.expireMarketDataTokens()
        h.sim.dropConnections()
        #expect(await h.events.wait(for: 2, isConnected), "reconnected with a new md token")
        #expect(h.sim.loginCount == 2, "one more sign-in for the new token pair")
        await h.close()
    }
}
