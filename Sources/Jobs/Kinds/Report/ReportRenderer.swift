import Brokers
import Foundation
import Scheduler

/// Renders a report three ways: Markdown text (e-mail text part, files), HTML tables (e-mail),
/// and a one-segment SMS digest.
public enum ReportRenderer {
    /// The message for every notifier type.
    public static func message(_ report: ReportData) -> NotificationMessage {
        NotificationMessage(
            subject: "\(report.title) — \(report.zone.local(report.at).date)", text: text(report), html: html(report), short: short(report))
    }

    /// A table: headers, rows, and which columns are numbers (right-aligned).
    struct Table {
        var headers: [String]
        var rows: [[String]]
        var numeric: Set<Int>
    }

    /// Each section's heading and table (or a sentence when there is nothing to show).
    static func blocks(_ report: ReportData) -> [(heading: String, table: Table?, note: String?)] {
        report.sections.map { section in
            switch section {
            case .balances:
                let rows = report.accounts.map { a -> [String] in
                    guard let b = a.balance else { return [a.broker, a.account, "—", "—", "—", "—"] }
                    return [a.broker, a.account, money(b.cash), money(b.buyingPower), money(b.marketValue), money(b.equity)]
                }
                let unavailable = report.accounts.filter { $0.balance == nil }.map { "\($0.broker) \($0.account) is unavailable: \($0.error ?? "no data")." }
                return (
                    "Balances",
                    rows.isEmpty
                        ? nil : Table(headers: ["Broker", "Account", "Cash", "Buying power", "Market value", "Equity"], rows: rows, numeric: [2, 3, 4, 5]),
                    rows.isEmpty ? "No brokers are configured." : (unavailable.isEmpty ? nil : unavailable.joined(separator: " "))
                )
            case .positions:
                let rows = report.accounts.flatMap { a in
                    a.positions.sorted { $0.symbol < $1.symbol }.map { p in
                        [a.account, p.symbol.rawValue, number(p.quantity), money(p.averagePrice), p.marketValue.map(money) ?? "—"]
                    }
                }
                return (
                    "Positions",
                    rows.isEmpty ? nil : Table(headers: ["Account", "Symbol", "Quantity", "Avg price", "Market value"], rows: rows, numeric: [2, 3, 4]),
                    rows.isEmpty ? "No open positions." : nil
                )
            case .orders:
                let rows = report.accounts.flatMap { a in
                    a.orders.sorted { ($0.openedAt ?? .distantPast, $0.id) < ($1.openedAt ?? .distantPast, $1.id) }.map { o in
                        [
                            a.account, o.id, o.side?.rawValue ?? "", o.symbol?.rawValue ?? "", number(o.quantity), number(o.filledQuantity),
                            o.averageFillPrice.map(money) ?? "—", o.state.rawValue,
                        ]
                    }
                }
                let fills = report.accounts.flatMap(\.orders).filter { $0.filledQuantity > 0 }.count
                return (
                    "Orders today (\(rows.count) orders, \(fills) with fills)",
                    rows.isEmpty
                        ? nil : Table(headers: ["Account", "Order", "Side", "Symbol", "Qty", "Filled", "Avg fill", "State"], rows: rows, numeric: [4, 5, 6]),
                    rows.isEmpty ? "No orders today." : nil
                )
            case .pnl:
                let rows = report.accounts.compactMap { a -> [String]? in
                    guard let equity = a.balance?.equity else { return nil }
                    return [
                        a.account, money(equity), a.equityAtDayStart.map { signed(equity - $0) } ?? "—",
                        a.equityAtLastReport.map { signed(equity - $0) } ?? "—",
                    ]
                }
                return (
                    "P&L", rows.isEmpty ? nil : Table(headers: ["Account", "Equity", "Day", "Since last report"], rows: rows, numeric: [1, 2, 3]),
                    rows.isEmpty ? "No account could be read." : nil
                )
            case .runs:
                let rows = report.runs.map { r in ["#\(r.id)", r.job, r.state, time(r.at, report), r.reason] }
                return (
                    "Failures and skips since \(time(report.runsSince, report))",
                    rows.isEmpty ? nil : Table(headers: ["Run", "Job", "State", "At", "Reason"], rows: rows, numeric: []), rows.isEmpty ? "None." : nil
                )
            case .upcoming:
                let rows = report.upcoming.map { u in [u.job, u.kind, time(u.at, report), u.rule] }
                return (
                    "Upcoming", rows.isEmpty ? nil : Table(headers: ["Job", "Type", "Next fire", "Rule"], rows: rows, numeric: []),
                    rows.isEmpty ? "No trading jobs are scheduled." : nil
                )
            }
        }
    }

    /// Markdown: a heading per section and pipe tables.
    public static func text(_ report: ReportData) -> String {
        var out = "# \(report.title)\n\nAs of \(time(report.at, report)) (\(report.zone.identifier)).\n"
        for block in blocks(report) {
            out += "\n## \(block.heading)\n\n"
            if let table = block.table { out += markdown(table) }
            if let note = block.note { out += (block.table == nil ? "" : "\n") + note + "\n" }
        }
        return out
    }

    static func markdown(_ table: Table) -> String {
        let cells = [table.headers] + table.rows
        let widths = table.headers.indices.map { column in cells.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            "| "
                + row.indices.map { i in
                    table.numeric.contains(i)
                        ? String(repeating: " ", count: widths[i] - row[i].count) + row[i] : row[i] + String(repeating: " ", count: widths[i] - row[i].count)
                }.joined(separator: " | ") + " |\n"
        }
        let rule =
            "|"
            + widths.indices.map { i in
                table.numeric.contains(i) ? String(repeating: "-", count: widths[i] + 1) + ":" : String(repeating: "-", count: widths[i] + 2)
            }
            .joined(separator: "|") + "|\n"
        return line(table.headers) + rule + table.rows.map(line).joined()
    }

    /// HTML with one table per section (inline styles only: mail clients drop style sheets).
    public static func html(_ report: ReportData) -> String {
        var out = "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n<h1>\(escape(report.title))</h1>\n"
        out += "<p>As of \(escape(time(report.at, report))) (\(escape(report.zone.identifier))).</p>\n"
        for block in blocks(report) {
            out += "<h2>\(escape(block.heading))</h2>\n"
            defer { if let note = block.note { out += "<p>\(escape(note))</p>\n" } }
            guard let table = block.table else { continue }
            out += "<table style=\"border-collapse: collapse\">\n<tr>"
            for (i, header) in table.headers.enumerated() {
                out +=
                    "<th style=\"border: 1px solid #ccc; padding: 2px 6px; text-align: \(table.numeric.contains(i) ? "right" : "left")\">\(escape(header))</th>"
            }
            out += "</tr>\n"
            for row in table.rows {
                out += "<tr>"
                for (i, cell) in row.enumerated() {
                    out +=
                        "<td style=\"border: 1px solid #ccc; padding: 2px 6px; text-align: \(table.numeric.contains(i) ? "right" : "left")\">\(escape(cell))</td>"
                }
                out += "</tr>\n"
            }
            out += "</table>\n"
        }
        return out + "</body></html>\n"
    }

    /// One SMS segment: equity and day P&L in total, orders, failures, the next fire.
    public static func short(_ report: ReportData) -> String {
        var parts: [String] = []
        let read = report.accounts.compactMap { a in a.balance.map { (a, $0) } }
        if report.sections.contains(.balances) || report.sections.contains(.pnl), !read.isEmpty {
            let equity = read.reduce(Decimal(0)) { $0 + $1.1.equity }
            var text = "equity \(money(equity))"
            let starts = read.compactMap { $0.0.equityAtDayStart }
            if starts.count == read.count { text += " (day \(signed(equity - starts.reduce(0, +))))" }
            parts.append(text)
        }
        let unread = report.accounts.filter { $0.balance == nil }.count
        if unread > 0 { parts.append("\(unread) account\(unread == 1 ? "" : "s") unavailable") }
        if report.sections.contains(.orders) {
            let orders = report.accounts.flatMap(\.orders)
            parts.append("\(orders.count) orders, \(orders.filter { $0.filledQuantity > 0 }.count) filled")
        }
        if report.sections.contains(.runs) {
            let failed = report.runs.filter { $0.state != "skipped" }.count
            let skipped = report.runs.count - failed
            parts.append("\(failed) failed, \(skipped) skipped")
        }
        if report.sections.contains(.upcoming), let next = report.upcoming.first {
            let local = report.zone.local(next.at)
            parts.append("next \(next.job) \(local.description.suffix(5))")
        }
        return SMSText.fit("\(report.title) \(report.zone.local(report.at).date): " + parts.joined(separator: "; "), maxSegments: 1)
    }

    static func time(_ instant: Instant, _ report: ReportData) -> String {
        report.zone.local(instant).description
    }

    /// `$1,234.50` (two decimals, thousands grouped, ASCII only).
    static func money(_ value: Decimal) -> String {
        let negative = value < 0
        let cents = NSDecimalNumber(decimal: (negative ? -value : value) * 100).rounding(accordingToBehavior: rounding).int64Value
        let whole = cents / 100
        let fraction = cents % 100
        var digits = String(whole)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits = String(digits.dropLast(3))
        }
        return (negative ? "-" : "") + "$" + digits + grouped + "." + (fraction < 10 ? "0" : "") + String(fraction)
    }

    static func signed(_ value: Decimal) -> String { value > 0 ? "+" + money(value) : money(value) }

    static func number(_ value: Decimal) -> String { NSDecimalNumber(decimal: value).stringValue }

    static let rounding = NSDecimalNumberHandler(
        roundingMode: .plain, scale: 0, raiseOnExactness: false, raiseOnOverflow: false, raiseOnUnderflow: false, raiseOnDivideByZero: false)

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
