/// Small byte-level text helpers for the configuration's hot paths (Foundation's Unicode-aware
/// equivalents cost far more, and every token here is ASCII).
enum ASCIIText {
    /// `text` without leading and trailing spaces and tabs.
    static func trimmed(_ text: Substring) -> Substring {
        let utf8 = text.utf8
        var start = utf8.startIndex
        var end = utf8.endIndex
        while start < end, utf8[start] == 32 || utf8[start] == 9 { start = utf8.index(after: start) }
        while end > start {
            let before = utf8.index(before: end)
            guard utf8[before] == 32 || utf8[before] == 9 else { break }
            end = before
        }
        return Substring(utf8[start..<end])
    }
}
