/// A small reader for the flat subset of TOML that `tradestation.toml` uses: `[table]` headers,
/// `key = value` lines with basic ("…") or literal ('…') strings, integers, floats, booleans and
/// dates, and comments. Other values (arrays, inline tables) are kept as raw text so unrelated
/// settings do not stop an import. Keys are returned as dotted paths, e.g. `auth.apikey`.
struct TOMLReader {
    enum Value: Equatable {
        case string(String)
        case raw(String)

        var string: String? {
            if case .string(let s) = self { return s }
            return nil
        }
    }

    struct ParseError: Error {
        let line: Int
        let message: String
    }

    static func parse(_ text: String) throws(ParseError) -> [String: Value] {
        var result: [String: Value] = [:]
        var table = ""
        // "\r\n" is one Character in Swift: Windows line endings must be matched as such.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        var index = 0
        while index < lines.count {
            let lineNumber = index + 1
            var line = Substring(lines[index]).trimmingWhitespace()
            index += 1
            if line.hasSuffix("\r") { line = line.dropLast().trimmingWhitespace() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                guard !line.hasPrefix("[["), let close = line.firstIndex(of: "]") else {
                    throw ParseError(line: lineNumber, message: "unsupported table header")
                }
                let rest = line[line.index(after: close)...].trimmingWhitespace()
                guard rest.isEmpty || rest.hasPrefix("#") else {
                    throw ParseError(line: lineNumber, message: "unexpected text after table header")
                }
                let name = line[line.index(after: line.startIndex)..<close].trimmingWhitespace()
                guard !name.isEmpty else { throw ParseError(line: lineNumber, message: "empty table name") }
                table = splitKey(name).joined(separator: ".")
                continue
            }
            guard let equals = indexOfEquals(line) else {
                throw ParseError(line: lineNumber, message: "expected key = value")
            }
            let keyText = line[..<equals].trimmingWhitespace()
            guard !keyText.isEmpty else { throw ParseError(line: lineNumber, message: "missing key") }
            let key = splitKey(keyText).joined(separator: ".")
            var valueText = line[line.index(after: equals)...].trimmingWhitespace()
            let value: Value
            if valueText.hasPrefix("\"\"\"") || valueText.hasPrefix("'''") {
                throw ParseError(line: lineNumber, message: "multi-line strings are not supported")
            } else if valueText.hasPrefix("\"") {
                value = .string(try basicString(valueText, line: lineNumber))
            } else if valueText.hasPrefix("'") {
                let body = valueText.dropFirst()
                guard let close = body.firstIndex(of: "'") else {
                    throw ParseError(line: lineNumber, message: "unterminated string")
                }
                try expectEnd(body[body.index(after: close)...], line: lineNumber)
                value = .string(String(body[..<close]))
            } else {
                // Arrays may span lines: collect until brackets balance.
                var depth = valueText.filter { $0 == "[" }.count - valueText.filter { $0 == "]" }.count
                while depth > 0, index < lines.count {
                    let next = Substring(lines[index]).trimmingWhitespace()
                    index += 1
                    valueText += " " + next
                    depth += next.filter { $0 == "[" }.count - next.filter { $0 == "]" }.count
                }
                if let hash = valueText.firstIndex(of: "#"), !valueText.hasPrefix("[") {
                    valueText = valueText[..<hash].trimmingWhitespace()
                }
                guard !valueText.isEmpty else { throw ParseError(line: lineNumber, message: "missing value") }
                value = .raw(String(valueText))
            }
            let path = table.isEmpty ? key : "\(table).\(key)"
            guard result[path] == nil else {
                throw ParseError(line: lineNumber, message: "key '\(path)' is defined twice")
            }
            result[path] = value
        }
        return result
    }

    private static func indexOfEquals(_ line: Substring) -> Substring.Index? {
        var quote: Character?
        for i in line.indices {
            let c = line[i]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "=" {
                return i
            }
        }
        return nil
    }

    /// Splits a dotted key on dots outside quotes and unquotes each part.
    private static func splitKey(_ key: Substring) -> [String] {
        var parts: [Substring] = []
        var quote: Character?
        var start = key.startIndex
        for i in key.indices {
            let c = key[i]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "." {
                parts.append(key[start..<i])
                start = key.index(after: i)
            }
        }
        parts.append(key[start...])
        return parts.map { unquoteKey($0.trimmingWhitespace()) }
    }

    private static func unquoteKey(_ key: Substring) -> String {
        if key.count >= 2, let first = key.first, first == "\"" || first == "'", key.last == first {
            return String(key.dropFirst().dropLast())
        }
        return String(key)
    }

    private static func expectEnd(_ rest: Substring, line: Int) throws(ParseError) {
        let trimmed = rest.trimmingWhitespace()
        guard trimmed.isEmpty || trimmed.hasPrefix("#") else {
            throw ParseError(line: line, message: "unexpected text after value")
        }
    }

    private static func basicString(_ text: Substring, line: Int) throws(ParseError) -> String {
        var out = ""
        var iterator = text.dropFirst().makeIterator()
        var consumed = 1
        while let c = iterator.next() {
            consumed += 1
            switch c {
            case "\"":
                try expectEnd(text.dropFirst(consumed), line: line)
                return out
            case "\\":
                guard let e = iterator.next() else { break }
                consumed += 1
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "u", "U":
                    let count = e == "u" ? 4 : 8
                    var hex = ""
                    for _ in 0..<count {
                        guard let h = iterator.next() else { break }
                        consumed += 1
                        hex.append(h)
                    }
                    guard hex.count == count, let scalarValue = UInt32(hex, radix: 16),
                        let scalar = Unicode.Scalar(scalarValue)
                    else { throw ParseError(line: line, message: "invalid \\\(e) escape") }
                    out.unicodeScalars.append(scalar)
                default:
                    throw ParseError(line: line, message: "invalid escape \\\(e)")
                }
            default:
                out.append(c)
            }
        }
        throw ParseError(line: line, message: "unterminated string")
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }
}
