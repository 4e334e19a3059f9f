/// Blowfish with the "expensive key schedule" extensions that OpenBSD's `bcrypt` uses.
///
/// Only what `bcrypt_pbkdf` needs: initial state from the digits of pi, `expandstate`,
/// `expand0state` and ECB encryption of 64-bit blocks held as two 32-bit words.
struct Blowfish {
    /// P-array (18 words) followed by the four S-boxes (4 × 256 words).
    private var state: [UInt32]

    private static let sBase = 18
    private static let stateSize = 18 + 4 * 256

    /// The initial state: P-array and S-boxes from the hexadecimal digits of pi.
    init() {
        var s = BlowfishTables.p
        s.reserveCapacity(Self.stateSize)
        s += BlowfishTables.s0
        s += BlowfishTables.s1
        s += BlowfishTables.s2
        s += BlowfishTables.s3
        precondition(s.count == Self.stateSize)
        state = s
    }

    /// Standard Blowfish key schedule: `initial state` then `expand0state(key)`.
    init(key: [UInt8]) {
        self.init()
        expand0State(key: key)
    }

    /// Reads the next big-endian word from `data`, cycling through it (`Blowfish_stream2word`).
    @inline(__always)
    static func streamToWord(_ data: UnsafeBufferPointer<UInt8>, _ position: inout Int) -> UInt32 {
        var word: UInt32 = 0
        for _ in 0..<4 {
            if position >= data.count { position = 0 }
            word = word << 8 | UInt32(data[position])
            position += 1
        }
        return word
    }

    @inline(__always)
    private static func encipher(_ s: UnsafeMutablePointer<UInt32>, _ left: inout UInt32, _ right: inout UInt32) {
        @inline(__always) func f(_ x: UInt32) -> UInt32 {
            let a = s[sBase + Int(x >> 24)]
            let b = s[sBase + 256 + Int((x >> 16) & 0xFF)]
            let c = s[sBase + 512 + Int((x >> 8) & 0xFF)]
            let d = s[sBase + 768 + Int(x & 0xFF)]
            return ((a &+ b) ^ c) &+ d
        }
        var xl = left ^ s[0]
        var xr = right
        var i = 1
        while i <= 16 {
            xr ^= f(xl) ^ s[i]
            xl ^= f(xr) ^ s[i + 1]
            i += 2
        }
        xr ^= s[17]
        left = xr
        right = xl
    }

    /// Encrypts one block given as two words.
    func encrypt(_ left: inout UInt32, _ right: inout UInt32) {
        var copy = state
        copy.withUnsafeMutableBufferPointer { Self.encipher($0.baseAddress!, &left, &right) }
    }

    /// Encrypts consecutive word pairs of `words` in place (ECB, `blf_enc`).
    mutating func encrypt(words: inout [UInt32]) {
        state.withUnsafeMutableBufferPointer { s in
            words.withUnsafeMutableBufferPointer { w in
                var j = 0
                while j + 1 < w.count {
                    Self.encipher(s.baseAddress!, &w[j], &w[j + 1])
                    j += 2
                }
            }
        }
    }

    /// `Blowfish_expandstate`: key schedule mixed with `data` (the salt).
    mutating func expandState(data: [UInt8], key: [UInt8]) {
        state.withUnsafeMutableBufferPointer { sp in
            let s = sp.baseAddress!
            key.withUnsafeBufferPointer { k in
                data.withUnsafeBufferPointer { d in
                    var j = 0
                    for i in 0..<18 { s[i] ^= Self.streamToWord(k, &j) }
                    j = 0
                    var l: UInt32 = 0
                    var r: UInt32 = 0
                    var i = 0
                    while i < Self.stateSize {
                        l ^= Self.streamToWord(d, &j)
                        r ^= Self.streamToWord(d, &j)
                        Self.encipher(s, &l, &r)
                        s[i] = l
                        s[i + 1] = r
                        i += 2
                    }
                }
            }
        }
    }

    /// `Blowfish_expand0state`: the plain key schedule step, without data.
    mutating func expand0State(key: [UInt8]) {
        state.withUnsafeMutableBufferPointer { sp in
            let s = sp.baseAddress!
            key.withUnsafeBufferPointer { k in
                var j = 0
                for i in 0..<18 { s[i] ^= Self.streamToWord(k, &j) }
                var l: UInt32 = 0
                var r: UInt32 = 0
                var i = 0
                while i < Self.stateSize {
                    Self.encipher(s, &l, &r)
                    s[i] = l
                    s[i + 1] = r
                    i += 2
                }
            }
        }
    }
}
