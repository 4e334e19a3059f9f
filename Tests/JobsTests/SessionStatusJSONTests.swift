import Foundation
import Testing

@testable import Jobs

/// A session's status row and its final report are typed; their bytes are those of the
/// hand-built dictionaries they replace (JSONSerialization, sorted keys), which `session status`,
/// the status page, the history and the docs show.
@Suite struct SessionStatusJSONTests {
    static func old(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
    static func n(_ s: String) -> NSDecimalNumber { NSDecimalNumber(decimal: Decimal(string: s)!) }
    static func d(_ s: String) -> Decimal { Decimal(string: s)! }

    nonisolated(unsafe) static let statuses: [(FuturesSessionStatus, [String: Any])] = [
        (
            FuturesSessionStatus(
                positions: ["MESZ6": -2, "ESZ6": 1], realizedPnL: d("-302.5"), openPnL: d("12.25"), maxDrawdown: d("-512.75"), orders: 7, fills: 5,
                rejects: 1, reconnects: 2, dayRealizedPnL: d("-1025"), workingOrders: 3,
                sockets: ["trading": "connected", "market": "paused: sign-in blocked until 2026-12-07T15:00:00Z (\"p-ticket\" / captcha)"]),
            [
                "positions": ["MESZ6": -2, "ESZ6": 1], "realized_pnl": n("-302.5"), "open_pnl": n("12.25"), "max_drawdown": n("-512.75"), "orders": 7,
                "fills": 5, "rejects": 1, "reconnects": 2, "day_realized_pnl": n("-1025"), "working_orders": 3,
                "sockets": ["trading": "connected", "market": "paused: sign-in blocked until 2026-12-07T15:00:00Z (\"p-ticket\" / captcha)"],
            ]
        ),
        (
            FuturesSessionStatus(
                positions: [:], realizedPnL: 0, openPnL: 0, maxDrawdown: 0, orders: 0, fills: 0, rejects: 0, reconnects: 0, dayRealizedPnL: 0,
                workingOrders: 0, sockets: [:]),
            [
                "positions": [String: Int](), "realized_pnl": n("0"), "open_pnl": n("0"), "max_drawdown": n("0"), "orders": 0, "fills": 0, "rejects": 0,
                "reconnects": 0, "day_realized_pnl": n("0"), "working_orders": 0, "sockets": [String: String](),
            ]
        ),
    ]

    @Test("the status detail is byte for byte what the session wrote before", arguments: statuses.indices)
    func statusBytes(_ i: Int) {
        let (status, object) = Self.statuses[i]
        #expect(status.json == Self.old(object))
    }

    nonisolated(unsafe) static let reports: [(FuturesSessionReport, [String: Any])] = [
        (
            FuturesSessionReport(
                orders: 4, fills: 3, rejects: 1, realizedPnL: d("-1025"), maxDrawdown: d("-1037.5"), reconnects: 1, locked: true, flattened: true,
                stopReason: "stopped at 2026-11-23T16:30:00Z"),
            [
                "orders": 4, "fills": 3, "rejects": 1, "realized_pnl": n("-1025"), "max_drawdown": n("-1037.5"), "reconnects": 1, "locked": true,
                "flattened": true, "stop_reason": "stopped at 2026-11-23T16:30:00Z",
            ]
        ),
        (
            FuturesSessionReport(
                orders: 0, fills: 0, rejects: 0, realizedPnL: d("2.5"), maxDrawdown: 0, reconnects: 0, locked: false, flattened: false,
                stopReason: "flatten failed: not flat after 3 rounds; open positions: \"ESZ5\" 2 / é"),
            [
                "orders": 0, "fills": 0, "rejects": 0, "realized_pnl": n("2.5"), "max_drawdown": n("0"), "reconnects": 0, "locked": false,
                "flattened": false, "stop_reason": "flatten failed: not flat after 3 rounds; open positions: \"ESZ5\" 2 / é",
            ]
        ),
    ]

    @Test("the report is byte for byte what the session wrote before", arguments: reports.indices)
    func reportBytes(_ i: Int) {
        let (report, object) = Self.reports[i]
        #expect(report.json == Self.old(object))
    }

    @Test func aReportCheckpointedBeforeKeepsDecoding() throws {
        let saved =
            #"{"orders":1,"fills":1,"rejects":0,"realizedPnL":-12.5,"maxDrawdown":-12.5,"reconnects":0,"locked":false,"flattened":true,"stopReason":"stopped"}"#
        let report = try JSONDecoder().decode(FuturesSessionReport.self, from: Data(saved.utf8))
        #expect(report.realizedPnL == Decimal(string: "-12.5") && report.stopReason == "stopped" && report.flattened)
    }
}
