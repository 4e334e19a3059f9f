import Foundation
import Testing

@testable import Jobs

/// Strategy intents decode in one place, leniently per field (a wrong field is absent, and the
/// session's reject names it), strictly for the line (a JSON object with a string type).
@Suite struct StrategyIntentTests {
    @Test(
        arguments: [
            (
                #"{"type":"order","tag":"entry","symbol":"MESZ6","side":"buy","qty":2,"order":"limit","price":5000.25}"#,
                "order", "entry", "MESZ6", "buy", 2 as Int?, "limit", Decimal(string: "5000.25"), Decimal(string: "5000.25")
            ),
            (
                #"{"type":"order","tag":"s","side":"sell","qty":1,"order":"stop","stop_price":"4990.5"}"#, "order", "s", nil, "sell", 1, "stop", nil,
                Decimal(string: "4990.5")
            ),
            (#"{"type":"order","tag":"s","side":"sell","qty":1,"order":"stop","price":4990}"#, "order", "s", nil, "sell", 1, "stop", 4990, 4990),
            (#"{"type":"order","tag":"s","qty":2.5,"price":"x"}"#, "order", "s", nil, nil, nil, nil, nil, nil),
            (#"{"type":"order","tag":7,"qty":"2","side":true}"#, "order", nil, nil, nil, nil, nil, nil, nil),
            (#"{"type":"cancel","tag":"entry"}"#, "cancel", "entry", nil, nil, nil, nil, nil, nil),
            (#"{"type":"flatten"}"#, "flatten", nil, nil, nil, nil, nil, nil, nil),
        ] as [(String, String, String?, String?, String?, Int?, String?, Decimal?, Decimal?)])
    func decodes(
        line: String, type: String, tag: String?, symbol: String?, side: String?, qty: Int?, order: String?, price: Decimal?, stop: Decimal?
    ) throws {
        let intent = try #require(StrategyIntent.decode(line))
        #expect(intent.type == type && intent.tag == tag && intent.symbol == symbol && intent.side == side)
        #expect(intent.qty == qty && intent.order == order && intent.price == price && intent.stopTrigger == stop)
    }

    @Test("a line that is not a JSON object with a string type is not an intent", arguments: ["", "nonsense", "[1]", #"{"tag":"x"}"#, #"{"type":3}"#])
    func refuses(line: String) {
        #expect(StrategyIntent.decode(line) == nil)
    }
}

/// The session's messages to its strategy are typed; their bytes are those of the hand-built
/// dictionaries they replace (JSONSerialization, sorted keys, `null` for a missing price).
@Suite struct StrategyMessageTests {
    static func old(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
    static func n(_ s: String) -> NSDecimalNumber { NSDecimalNumber(decimal: Decimal(string: s)!) }

    nonisolated(unsafe) static let cases: [(StrategyMessage, [String: Any])] = [
        (
            .quote(symbol: "MESZ6", bid: Decimal(string: "5000.25"), ask: nil, last: Decimal(string: "-0.5")),
            ["type": "quote", "symbol": "MESZ6", "bid": n("5000.25"), "ask": NSNull(), "last": n("-0.5")]
        ),
        (.position(symbol: "MESZ6", net: -2), ["type": "position", "symbol": "MESZ6", "net": -2]),
        (.order(id: 600_000_001, status: "Working", tag: "entry"), ["type": "order", "order_id": Int64(600_000_001), "status": "Working", "tag": "entry"]),
        (.order(id: 7, status: "Filled", tag: nil), ["type": "order", "order_id": Int64(7), "status": "Filled"]),
        (
            .fill(orderID: 7, symbol: "ESZ5", side: "sell", qty: 2, price: Decimal(string: "4997.25")!),
            ["type": "fill", "order_id": Int64(7), "symbol": "ESZ5", "side": "sell", "qty": 2, "price": n("4997.25")]
        ),
        (.pnl(realized: Decimal(string: "-302.5")!, open: 0), ["type": "cash", "realized_pnl": n("-302.5"), "open_pnl": n("0")]),
        (.pnl(realized: 125, open: nil), ["type": "cash", "realized_pnl": n("125")]),
        (.cash(amount: nil, realized: 0), ["type": "cash", "amount": NSNull(), "realized_pnl": n("0")]),
        (.cash(amount: Decimal(string: "50125.5"), realized: 1), ["type": "cash", "amount": n("50125.5"), "realized_pnl": n("1")]),
        (.riskLimit("daily loss -525 reached the limit -500"), ["type": "risk-limit", "message": "daily loss -525 reached the limit -500"]),
        (.riskStale("no quote for 10s"), ["type": "risk-stale", "message": "no quote for 10s"]),
        (.flattenFailed("open positions: ESZ5 2"), ["type": "flatten-failed", "message": "open positions: ESZ5 2"]),
        (.reject(tag: nil, reason: "invalid: each line must be a JSON object"), ["type": "reject", "reason": "invalid: each line must be a JSON object"]),
        (.reject(tag: "", reason: "invalid: \"x\" / é\n"), ["type": "reject", "tag": "", "reason": "invalid: \"x\" / é\n"]),
        (
            .result(tag: "e", status: "cancelled", orderID: 9, orderStatus: "Canceled"),
            ["type": "result", "tag": "e", "status": "cancelled", "order_id": Int64(9), "order_status": "Canceled"]
        ),
        (.result(tag: nil, status: "flatten-sent", orderID: nil, orderStatus: nil), ["type": "result", "status": "flatten-sent"]),
        (
            .sessionStart(job: "es-day", run: 12, symbols: ["ESZ5", "MESZ5"], stopAt: "2026-11-23T16:30:00Z", locked: false, resumed: true),
            [
                "type": "session", "event": "start", "job": "es-day", "run": Int64(12), "symbols": ["ESZ5", "MESZ5"], "stop_at": "2026-11-23T16:30:00Z",
                "locked": false, "resumed": true,
            ]
        ),
        (.sessionStop(reason: "stopped at 2026-11-23T16:30:00Z"), ["type": "session", "event": "stop", "reason": "stopped at 2026-11-23T16:30:00Z"]),
    ]

    @Test("each message is byte for byte what the session wrote before", arguments: cases.indices)
    func byteCompatible(_ i: Int) {
        let (message, object) = Self.cases[i]
        #expect(message.line == Self.old(object))
        #expect(message.type == object["type"] as? String)
    }
}
