import Foundation

/// One problem found in a configuration file: where it is, which key, what is wrong, how to fix it.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    /// The file, as given.
    public var file: String
    /// 1-based line, 0 when unknown.
    public var line: Int
    /// 1-based column, 0 when unknown.
    public var column: Int
    /// The key path, e.g. `jobs.daily-report.schedule.cron`.
    public var path: String
    /// What is wrong, and the fix.
    public var message: String

    /// A diagnostic.
    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// `jobs.yaml:14:15: jobs.report.schedule.cron: minute 61 is out of range 0–59 …`
    public var description: String {
        let place = line > 0 ? "\(file):\(line):\(column)" : file
        return path.isEmpty ? "\(place): \(message)" : "\(place): \(path): \(message)"
    }
}

/// Spelling suggestions for unknown keys and names.
enum Suggest {
    /// The closest of `candidates` to `word`, when it is close enough to be a typo.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }.min { $0.1 < $1.1 }
        guard let (best, score) = scored else { return nil }
        return score <= max(2, word.count / 3) ? best : nil
    }

    /// " — did you mean 'x'?" or a list of what is allowed.
    static func hint(for word: String, in candidates: [String]) -> String {
        if let best = closest(to: word, in: candidates) { return " — did you mean '\(best)'?" }
        return candidates.isEmpty ? "" : "; expected one of: " + candidates.sorted().joined(separator: ", ")
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
