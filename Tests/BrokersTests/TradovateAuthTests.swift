import Foundation
import SchedctlBase
import SchedctlTesting
import Synchronization
import Testing

@testable import Brokers
@testable import Sandbox

/// A simulator and clients sharing one manual clock; a client's penalty wait advances it.
final class TVClock: Sendable {
    let clock = ManualWallClock(Date(timeIntervalSince1970: 1_790_000_000))
    let sleeps = Mutex<[Duration]>([])
    var sleeper: Sleeper {
        Sleeper { [clock, self] d in
            self.sleeps.withLock { $0.append(d) }
            clock.advance(by: Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
    }
    func simulator() async throws -> TradovateSimulator {
        let sim = TradovateSimulator(clock: clock.clock)
        try await sim.start(port: 0)
        return sim
    }
    func auth(
        _ sim: TradovateSimulator, store: any TradovateTokenStore = InMemoryTradovateTokenStore(), credentials: any CredentialProvider = tvSecrets,
        renewMargin: TimeInterval = 15 * 60, limits: TradovateAuthLimits = TradovateAuthLimits()
    ) -> TradovateAuth {
        TradovateAuth(
            configuration: tvConfig(sim, renewMargin: renewMargin, limits: limits), credentials: credentials, store: store, clock: clock.clock,
            sleeper: sleeper)
    }
}

let wrongPassword = InMemoryCredentials([
    "tradovate/username": "demo-user", "tradovate/password": "WRONG-PASSWORD", "tradovate/cid": "1234", "tradovate/secret": "sim-secret",
])

@Suite struct TradovateAuthTests {
    @Test func environmentParsing() throws {
        #expect(try TradovateEnvironment(parsing: "demo").restURL.absoluteString == "https://demo.tradovateapi.com/v1")
        #expect(TradovateEnvironment.live.webSocketURL.absoluteString == "wss://live.tradovateapi.com/v1/websocket")
        #expect(throws: BrokerError.self) { try TradovateEnvironment(parsing: "sim") }
    }

    @Test func concurrentCallersShareOneLogin() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        let auth = t.auth(sim)
        let tokens = try await withThrowingTaskGroup(of: String.self) { g in
            for _ in 0..<10 { g.addTask { try await auth.accessToken() } }
            var out = Set<String>()
            for try await t in g { out.insert(t) }
            return out
        }
        #expect(tokens.count == 1)
        #expect(sim.loginCount == 1 && sim.activeSessionCount == 1)
        await sim.stop()
    }

    @Test func separateProcessesSharingTheStoreSignInOnce() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        let shared = InMemoryTradovateTokenStore()
        // Three "processes" (a service and two commands), each with its own auth and client.
        for _ in 0..<3 { #expect(try await TradovateClient(auth: t.auth(sim, store: shared)).accounts().count == 1) }
        #expect(sim.loginCount == 1 && sim.activeSessionCount == 1 && sim.evictedSessionCount == 0)
        // Renewal by one is seen by all: no second session.
        t.clock.advance(by: 70 * 60)
        let renewed = try await t.auth(sim, store: shared).accessToken()
        #expect(try await t.auth(sim, store: shared).accessToken() == renewed)
        #expect(sim.loginCount == 1 && sim.renewCount == 1)
        await sim.stop()
    }

    @Test func aSignInInProgressElsewhereIsWaitedFor() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        let shared = InMemoryTradovateTokenStore()
        // Another process claimed the sign-in 2 s ago and has not stored its token yet.
        var book = TradovateAuthBook()
        book.signIns = [t.clock.now().addingTimeInterval(-2)]
        book.claimUntil = t.clock.now().addingTimeInterval(38)
        _ = try await shared.replace(expectedVersion: nil, with: TradovateTokenState(book: book))
        _ = try await t.auth(sim, store: shared).accessToken()
        // It waited out the claim (sleeping on the injected clock), then signed in itself.
        #expect(sim.loginCount == 1 && t.clock.now().timeIntervalSince1970 >= 1_790_000_038)
        await sim.stop()
    }

    @Test func renewsAheadOfExpiryInTheSameSession() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        sim.setTokenLifetime(30 * 60)
        let auth = t.auth(sim)
        let first = try await auth.currentSession()
        #expect(first.mdAccessToken != nil && first.userID == 7001)
        t.clock.advance(by: 10 * 60)  // 20 min left: no renewal
        #expect(try await auth.accessToken() == first.accessToken)
        t.clock.advance(by: 6 * 60)  // 14 min left: renew
        let second = try await auth.currentSession()
        #expect(second.accessToken != first.accessToken && second.mdAccessToken != nil)
        #expect(sim.renewCount == 1 && sim.loginCount == 1 && sim.activeSessionCount == 1)
        await sim.stop()
    }

    @Test func renewalPenaltyIsHonouredWithItsTicket() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        sim.setTokenLifetime(30 * 60)
        let auth = t.auth(sim)
        let first = try await auth.accessToken()
        t.clock.advance(by: 20 * 60)
        sim.enqueueRenewPenalty()
        #expect(try await auth.accessToken() == first)  // penalty: the still-valid token is kept
        for _ in 0..<20 { #expect(try await auth.accessToken() == first) }  // no retry inside the penalty or the minute
        #expect(sim.renewCount == 1)
        t.clock.advance(by: 60)
        let next = try await auth.accessToken()
        #expect(next != first && sim.renewCount == 2 && sim.loginCount == 1 && sim.earlyRetryCount == 0)
        await sim.stop()
    }

    @Test func renewalsStayWithinOneAMinuteAndTheHourlyLimit() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        // A margin beyond the 80-minute lifetime makes every call want a renewal: a storm if unchecked.
        let auth = t.auth(sim, renewMargin: 100 * 60)
        _ = try await auth.accessToken()
        for _ in 0..<(6 * 60) {  // a call every 10 s for an hour
            t.clock.advance(by: 10)
            _ = try await auth.accessToken()
        }
        #expect(sim.renewCount == 12, "at most 12 renewals an hour, one a minute at most")
        #expect(sim.earlyRetryCount == 0 && sim.loginCount == 1)
        await sim.stop()
    }

    @Test func refusedRenewalFallsBackToLogin() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        sim.setTokenLifetime(20 * 60)
        let auth = t.auth(sim, renewMargin: 30 * 60)
        _ = try await auth.accessToken()
        sim.expireTokens()
        _ = try await auth.accessToken()
        #expect(sim.renewCount == 1 && sim.loginCount == 2)
        await sim.stop()
    }

    @Test func badCredentialsGiveBoundedAttemptsAndTheFix() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        let shared = InMemoryTradovateTokenStore()
        var messages: [String] = []
        for _ in 0..<(3 * 60) {  // three hours of callers (a new "process" every minute)
            do { _ = try await t.auth(sim, store: shared, credentials: wrongPassword).accessToken() } catch let e as BrokerError {
                #expect(e.isAuthenticationFailure)
                messages.append(e.message)
            }
            t.clock.advance(by: 60)
        }
        #expect(messages.count == 180 && messages.allSatisfy { !$0.contains("WRONG-PASSWORD") })
        #expect(messages[0].contains("Incorrect username or password") && messages[0].contains("schedctl secrets set tradovate/password"))
        #expect(messages[1].contains("next attempt after"))
        // Two failed sign-ins an hour reach Tradovate; its limit (5, then captcha) is never hit.
        #expect(sim.loginCount <= 7 && sim.captchaReplyCount == 0 && sim.failedSignInCount <= 2)
        await sim.stop()
    }

    /// The user follows the fix (`schedctl secrets set tradovate/password`): the next call signs in
    /// at once instead of repeating the cooldown; the same wrong credentials stay held back, and
    /// changed-but-wrong ones still stop at the hourly limit.
    @Test func changedCredentialsAreTriedWithoutTheCooldown() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        let shared = InMemoryTradovateTokenStore()
        func attempt(_ credentials: any CredentialProvider) async -> BrokerError? {
            do {
                _ = try await t.auth(sim, store: shared, credentials: credentials).accessToken()
                return nil
            } catch {
                return error as? BrokerError
            }
        }
        let first = await attempt(wrongPassword)
        #expect(first?.message.contains("will not sign in with these credentials again before") == true, "\(String(describing: first))")
        let same = await attempt(wrongPassword)
        #expect(same?.message.contains("with the same credentials, next attempt after") == true, "\(String(describing: same))")
        #expect(sim.failedSignInCount == 1 && sim.loginCount == 1)

        let otherWrong = InMemoryCredentials([
            "tradovate/username": "demo-user", "tradovate/password": "STILL-WRONG", "tradovate/cid": "1234", "tradovate/secret": "sim-secret",
        ])
        #expect(await attempt(otherWrong)?.isAuthenticationFailure == true)
        #expect(sim.failedSignInCount == 2)
        // Two failures this hour: even new credentials wait for the hour (Tradovate locks at 5).
        let capped = await attempt(tvSecrets)
        #expect(capped?.message.contains("sign-ins failed in the last hour") == true, "\(String(describing: capped))")
        #expect(sim.failedSignInCount == 2 && sim.loginCount == 2)

        // A fresh hour: one wrong attempt, then the fixed credentials sign in at once.
        t.clock.advance(by: 3601)
        #expect(await attempt(wrongPassword)?.isAuthenticationFailure == true)
        #expect(await attempt(tvSecrets) == nil)
        #expect(sim.loginCount == 4 && sim.activeSessionCount == 1)
        await sim.stop()
    }

    @Test func errorTextIsReportedWithoutSecrets() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        let auth = t.auth(sim, credentials: wrongPassword)
        do { _ = try await auth.accessToken(); Issue.record("expected an error") } catch let e as BrokerError {
            #expect(e.isAuthenticationFailure && e.message.contains("Incorrect username or password"))
            #expect(!e.message.contains("WRONG-PASSWORD"))
        }
        await sim.stop()
    }

    @Test func timePenaltyIsWaitedOutAndRetriedWithTicket() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        sim.enqueueLoginPenalty(seconds: 15)
        _ = try await t.auth(sim).accessToken()
        #expect(t.sleeps.withLock { $0 } == [.seconds(15)])
        #expect(sim.loginCount == 2 && sim.earlyRetryCount == 0)
        await sim.stop()
    }

    @Test func aPenaltyLongerThanTheCapFailsAtOnceInsteadOfParkingTheRun() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        sim.enqueueLoginPenalty(seconds: 365 * 86_400)
        do { _ = try await t.auth(sim).accessToken(); Issue.record("expected an error") } catch let e as BrokerError {
            #expect(e.isPenalty && e.retryAfter == Double(365 * 86_400))
        }
        #expect(t.sleeps.withLock { $0 }.isEmpty && sim.loginCount == 1)
        await sim.stop()
    }

    @Test func captchaStopsEveryAttemptForAnHour() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        let shared = InMemoryTradovateTokenStore()
        sim.enqueueLoginPenalty(seconds: 3600, captcha: true)
        do { _ = try await t.auth(sim, store: shared).accessToken(); Issue.record("expected an error") } catch let e as BrokerError {
            #expect(e.isPenalty && e.message.contains("captcha") && e.message.contains("Tradovate website"))
        }
        // Other processes make no attempt during the hour.
        for _ in 0..<59 {
            t.clock.advance(by: 60)
            await #expect(throws: BrokerError.self) { _ = try await t.auth(sim, store: shared).accessToken() }
        }
        #expect(sim.loginCount == 1 && t.sleeps.withLock { $0.isEmpty })
        t.clock.advance(by: 61)
        _ = try await t.auth(sim, store: shared).accessToken()
        #expect(sim.loginCount == 2)
        await sim.stop()
    }

    @Test func sessionsBeyondTwoEvictTheOldest() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        // Three processes that do NOT share a store (what the old client did).
        let a = TradovateClient(auth: t.auth(sim))
        let b = TradovateClient(auth: t.auth(sim))
        let c = TradovateClient(auth: t.auth(sim))
        _ = try await a.accounts(); _ = try await b.accounts(); _ = try await c.accounts()
        #expect(sim.activeSessionCount == 2 && sim.evictedSessionCount == 1)
        // a's session was closed: its next call gets 401, signs in again once and succeeds.
        #expect(try await a.accounts().count == 1)
        #expect(sim.loginCount == 4)
        await sim.stop()
    }

    @Test func theSimulatorEnforcesTheDocumentedLimitsOnAStormingClient() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        var storm = TradovateAuthLimits()
        storm.failedSignInsPerHour = 100
        storm.failedSignInCooldown = 0
        storm.renewalsPerHour = 100
        storm.renewalInterval = 0
        for _ in 0..<6 { _ = try? await t.auth(sim, credentials: wrongPassword, limits: storm).accessToken() }
        #expect(sim.captchaReplyCount == 1, "the sixth failed sign-in within the hour meets the captcha")
        t.clock.advance(by: 3601)
        let auth = t.auth(sim, renewMargin: 100 * 60, limits: storm)
        var tokens = [try await auth.accessToken()]
        for _ in 0..<16 { tokens.append(try await auth.accessToken()) }
        #expect(sim.renewCount == 16)
        #expect(Set(tokens).count == 16 && tokens[16] == tokens[15], "15 renewals succeed; the 16th is penalised")
        await sim.stop()
    }

    /// Bad credentials pause the socket for the failed-sign-in cooldown (review #6: it is never
    /// stopped for good); it does not sign in again and again meanwhile.
    @Test func aWebSocketWithBadCredentialsPausesInsteadOfSigningInAgainAndAgain() async throws {
        let sim = TradovateSimulator()
        try await sim.start(port: 0)
        let auth = TradovateAuth(configuration: tvConfig(sim), credentials: wrongPassword, sleeper: .immediate)
        let ws = TradovateWebSocket(url: sim.webSocketURL, auth: auth, configuration: fastWS)
        let events = EventCollector(ws)
        await ws.start()
        #expect(await events.wait(isDisconnected))
        // The socket enters its pause before it reports the disconnect awaited above.
        func paused() async -> Bool { if case .paused = await ws.state { return true } else { return false } }
        #expect(await paused(), "the socket pauses")
        #expect(!events.finished, "not stopped for good")
        #expect(await ws.failure?.isAuthenticationFailure == true)
        await #expect(throws: BrokerError.self) { _ = try await ws.request("account/list") }
        #expect(sim.loginCount == 1 && sim.webSocketConnectCount == 0)
        await ws.stop()
        await sim.stop()
    }

    @Test func anUnreachableServerDoesNotUseUpTheSignInAllowance() async throws {
        let t = TVClock()
        let sim = try await t.simulator()
        await sim.stop()
        let store = InMemoryTradovateTokenStore()
        for _ in 0..<10 {
            do { _ = try await t.auth(sim, store: store).accessToken() } catch let e as BrokerError {
                #expect(e.isTransportError || e.isTimeout, "\(e)")
            }
        }
        let book = try #require(try await store.load()?.state.book)
        #expect(book.signIns.isEmpty && book.claimUntil == nil)
    }
}

/// Review L: a stored auth book that lacks a field (written by an older schedctl) or has one it
/// cannot read keeps the rest, above all a captcha lock-out (`lockedUntil`).
@Suite struct TradovateAuthBookDecodingTests {
    @Test(arguments: ["signIns", "failedSignIns", "renewals"])
    func aBookWithoutAFieldKeepsItsLockOut(missing: String) throws {
        var book = TradovateAuthBook()
        book.lockedUntil = Date(timeIntervalSince1970: 1_800_000_000)
        book.lockReason = "captcha required"
        book.signIns = [Date(timeIntervalSince1970: 1_799_999_000)]
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(book)) as? [String: Any])
        object[missing] = nil
        let decoded = try JSONDecoder().decode(TradovateAuthBook.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(decoded.lockedUntil == book.lockedUntil && decoded.lockReason == "captcha required")
    }

    @Test func aFieldOfTheWrongTypeIsDroppedAlone() throws {
        let json = #"{"signIns":"yesterday","lockedUntil":819000000,"lockReason":"captcha required","failedSignIns":[],"renewals":[]}"#
        let decoded = try JSONDecoder().decode(TradovateAuthBook.self, from: Data(json.utf8))
        #expect(decoded.lockedUntil == Date(timeIntervalSinceReferenceDate: 819_000_000) && decoded.signIns.isEmpty)
    }
}
