import Foundation

/// Reads the SSH wire format (RFC 4251 §5): big-endian `uint32`, length-prefixed `string`, `mpint`.
struct SSHReader {
    private let bytes: [UInt8]
    private(set) var offset: Int = 0

    init<D: Collection<UInt8>>(_ data: D) { self.bytes = Array(data) }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset >= bytes.count }

    struct Truncated: Error {}

    mutating func readBytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= remaining else { throw Truncated() }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func readUInt32() throws -> UInt32 {
        let b = try readBytes(4)
        return UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }

    mutating func readString() throws -> [UInt8] {
        let length = try readUInt32()
        guard length <= UInt32(remaining) else { throw Truncated() }
        return try readBytes(Int(length))
    }

    mutating func readUTF8() throws -> String {
        String(decoding: try readString(), as: UTF8.self)
    }

    /// An `mpint` as its unsigned magnitude, without leading zero bytes.
    mutating func readMPIntMagnitude() throws -> [UInt8] {
        let raw = try readString()
        return Array(raw.drop(while: { $0 == 0 }))
    }

    mutating func readRest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }
}

/// Writes the SSH wire format.
struct SSHWriter {
    private(set) var bytes: [UInt8] = []

    mutating func writeUInt32(_ value: UInt32) {
        bytes += [
            UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16),
            UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value),
        ]
    }

    mutating func writeString<C: Collection<UInt8>>(_ value: C) {
        writeUInt32(UInt32(value.count))
        bytes += value
    }

    mutating func writeString(_ value: String) { writeString(Array(value.utf8)) }

    /// Writes an unsigned magnitude as an `mpint` (minimal, with a 0x00 pad when the top bit is set).
    mutating func writeMPInt<C: Collection<UInt8>>(unsigned magnitude: C) {
        var m = Array(magnitude.drop(while: { $0 == 0 }))
        if let first = m.first, first & 0x80 != 0 { m.insert(0, at: 0) }
        writeString(m)
    }
}

extension Array where Element == UInt8 {
    /// Left-pads (or strips leading zeros) to exactly `length` bytes; nil when the value is too large.
    func leftPadded(to length: Int) -> [UInt8]? {
        let trimmed = Array(drop(while: { $0 == 0 }))
        guard trimmed.count <= length else { return nil }
        return [UInt8](repeating: 0, count: length - trimmed.count) + trimmed
    }
}

enum Hex {
    static func encode<C: Collection<UInt8>>(_ bytes: C) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = value(chars[i]), let lo = value(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

/// Compares two byte sequences in time independent of where they differ.
func constantTimeEqual<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for (x, y) in zip(a, b) { diff |= x ^ y }
    return diff == 0
}
