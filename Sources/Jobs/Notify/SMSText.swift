/// Fits text into a number of SMS segments. GSM-7 text carries 160 characters in one segment
/// (153 each when concatenated); anything else is UCS-2: 70 (67 each when concatenated).
public enum SMSText {
    /// The GSM 03.38 basic character set (the extension table's characters count double).
    static let basic: Set<Character> = Set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
    static let extended: Set<Character> = Set("^{}\\[~]|€\u{0C}")

    /// Whether `text` can go as GSM-7.
    public static func isGSM(_ text: String) -> Bool { text.allSatisfy { basic.contains($0) || extended.contains($0) } }

    /// The encoded length of `text` in its encoding's units.
    static func units(_ text: String, gsm: Bool) -> Int {
        gsm ? text.reduce(0) { $0 + (extended.contains($1) ? 2 : 1) } : text.utf16.count
    }

    /// How many segments `text` needs.
    public static func segments(_ text: String) -> Int {
        let gsm = isGSM(text)
        let length = units(text, gsm: gsm)
        let (single, multi) = gsm ? (160, 153) : (70, 67)
        return length <= single ? 1 : (length + multi - 1) / multi
    }

    /// `text` cut (with "...") so it needs at most `maxSegments` segments.
    public static func fit(_ text: String, maxSegments: Int) -> String {
        if segments(text) <= maxSegments { return text }
        let gsm = isGSM(text)
        let capacity = maxSegments == 1 ? (gsm ? 160 : 70) : maxSegments * (gsm ? 153 : 67)
        var result = ""
        var used = 0
        for character in text {
            let cost = gsm ? (extended.contains(character) ? 2 : 1) : String(character).utf16.count
            if used + cost > capacity - 3 { break }
            result.append(character)
            used += cost
        }
        return result + "..."
    }
}
