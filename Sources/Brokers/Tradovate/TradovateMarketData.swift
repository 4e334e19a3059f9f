public import Foundation

extension TradovateClient {
    /// Quotes through a short subscription on the market-data WebSocket (Tradovate has no REST
    /// quote snapshot): connect, authorize, `md/subscribequote` each symbol, take the first quote
    /// of each, unsubscribe and disconnect. A symbol without a quote within `timeout` (on
    /// `socket.clock`) is reported in `errors`.
    public func marketDataQuotes(
        _ symbols: [Symbol], timeout: Duration = .seconds(10), socket: TradovateWebSocketConfiguration = .init(useMarketDataToken: true)
    ) async throws -> PartialResult<Quote> {
        var contracts: [Int64: Symbol] = [:]
        var errors: [PartialError] = []
        for symbol in symbols {
            do {
                contracts[try await contract(named: symbol.rawValue).id] = symbol
            } catch let error as BrokerError where error.code == .notFound {
                errors.append(PartialError(item: symbol.rawValue, code: "InvalidContract", message: "Tradovate has no contract \(symbol.rawValue)"))
            }
        }
        guard !contracts.isEmpty else { return PartialResult(items: [], errors: errors) }
        var socketConfiguration = socket
        socketConfiguration.maxConsecutiveFailures = socketConfiguration.maxConsecutiveFailures ?? 3
        let ws = TradovateWebSocket(url: configuration.marketDataURL, auth: auth, configuration: socketConfiguration)
        let wanted = contracts
        // Collect from the stream before subscribing so the first quote is not missed.
        let collector = Task { () -> [Int64: TradovateQuote] in
            var found: [Int64: TradovateQuote] = [:]
            for await event in ws.events {
                if case .quote(let q) = event, wanted[q.contractID] != nil, found[q.contractID] == nil { found[q.contractID] = q }
                if found.count == wanted.count { break }
            }
            return found
        }
        await ws.start()
        let clock = socketConfiguration.clock
        let watchdog = Task {
            try? await clock.sleep(for: timeout)
            await ws.stop()
        }
        defer { watchdog.cancel() }
        do {
            for symbol in wanted.values.sorted(by: { $0.rawValue < $1.rawValue }) { try await ws.subscribeQuote(symbol: symbol.rawValue) }
        } catch {
            await ws.stop()
            collector.cancel()
            throw error
        }
        let found = await collector.value
        for symbol in wanted.values { try? await ws.unsubscribeQuote(symbol: symbol.rawValue) }
        await ws.stop()
        var items: [Quote] = []
        for (id, symbol) in wanted.sorted(by: { $0.value.rawValue < $1.value.rawValue }) {
            if let q = found[id] {
                items.append(Quote(symbol: symbol, bid: q.bid, ask: q.ask, last: q.last))
            } else {
                errors.append(PartialError(item: symbol.rawValue, code: "NoQuote", message: "no quote for \(symbol.rawValue) within \(timeout)"))
            }
        }
        return PartialResult(items: items, errors: errors)
    }
}

extension TradovateClient {
    /// The trading-socket URL this client's broker uses (`ws_url` or the environment's).
    public var tradingSocketURL: URL { configuration.webSocketURL }
    /// The market-data-socket URL this client's broker uses (`md_url` or the environment's).
    public var marketDataSocketURL: URL { configuration.marketDataURL }
}
