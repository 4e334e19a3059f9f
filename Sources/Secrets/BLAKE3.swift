/// BLAKE3 in hash mode (no key, no key derivation), with extendable output.
///
/// A straightforward port of the BLAKE3 reference implementation; pv-tradestation derived its
/// sealing key as the 32-byte BLAKE3 hash of a key file's raw bytes.
///
/// ```swift
/// var hasher = BLAKE3()
/// hasher.update(Array("abc".utf8))
/// let digest = hasher.finalize()          // 32 bytes
/// let long = hasher.finalize(outputLength: 100)
/// ```
public struct BLAKE3: Sendable {
    private static let iv: [UInt32] = [
        0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A, 0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19,
    ]
    private static let permutation: [Int] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8]
    private static let chunkStart: UInt32 = 1 << 0
    private static let chunkEnd: UInt32 = 1 << 1
    private static let parent: UInt32 = 1 << 2
    private static let root: UInt32 = 1 << 3
    private static let blockLength = 64
    private static let chunkLength = 1024

    /// The default digest length in bytes.
    public static let defaultOutputLength = 32

    /// Hashes `data` in one call.
    public static func hash<C: Collection<UInt8>>(_ data: C, outputLength: Int = defaultOutputLength) -> [UInt8] {
        var hasher = BLAKE3()
        hasher.update(data)
        return hasher.finalize(outputLength: outputLength)
    }

    private static func compress(
        _ cv: [UInt32], _ block: [UInt32], _ counter: UInt64, _ blockLength: UInt32, _ flags: UInt32
    ) -> [UInt32] {
        var s: [UInt32] = [
            cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
            iv[0], iv[1], iv[2], iv[3],
            UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32), blockLength, flags,
        ]
        var m = block
        @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        @inline(__always) func g(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ x: UInt32, _ y: UInt32) {
            s[a] = s[a] &+ s[b] &+ x
            s[d] = rotr(s[d] ^ s[a], 16)
            s[c] = s[c] &+ s[d]
            s[b] = rotr(s[b] ^ s[c], 12)
            s[a] = s[a] &+ s[b] &+ y
            s[d] = rotr(s[d] ^ s[a], 8)
            s[c] = s[c] &+ s[d]
            s[b] = rotr(s[b] ^ s[c], 7)
        }
        for round in 0..<7 {
            g(0, 4, 8, 12, m[0], m[1])
            g(1, 5, 9, 13, m[2], m[3])
            g(2, 6, 10, 14, m[4], m[5])
            g(3, 7, 11, 15, m[6], m[7])
            g(0, 5, 10, 15, m[8], m[9])
            g(1, 6, 11, 12, m[10], m[11])
            g(2, 7, 8, 13, m[12], m[13])
            g(3, 4, 9, 14, m[14], m[15])
            if round < 6 { m = permutation.map { m[$0] } }
        }
        for i in 0..<8 {
            s[i] ^= s[i + 8]
            s[i + 8] ^= cv[i]
        }
        return s
    }

    private static func words(fromBlock bytes: [UInt8]) -> [UInt32] {
        (0..<16).map { i in
            UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16
                | UInt32(bytes[4 * i + 3]) << 24
        }
    }

    private struct Output {
        var inputCV: [UInt32]
        var blockWords: [UInt32]
        var counter: UInt64
        var blockLength: UInt32
        var flags: UInt32

        func chainingValue() -> [UInt32] {
            Array(BLAKE3.compress(inputCV, blockWords, counter, blockLength, flags).prefix(8))
        }

        func rootBytes(_ length: Int) -> [UInt8] {
            var out = [UInt8]()
            out.reserveCapacity(length)
            var blockCounter: UInt64 = 0
            while out.count < length {
                let words = BLAKE3.compress(inputCV, blockWords, blockCounter, blockLength, flags | BLAKE3.root)
                for w in words {
                    for shift in stride(from: 0, to: 32, by: 8) where out.count < length {
                        out.append(UInt8(truncatingIfNeeded: w >> UInt32(shift)))
                    }
                }
                blockCounter += 1
            }
            return out
        }
    }

    private struct ChunkState {
        var cv: [UInt32]
        var chunkCounter: UInt64
        var block = [UInt8](repeating: 0, count: BLAKE3.blockLength)
        var blockLength = 0
        var blocksCompressed = 0

        init(key: [UInt32], chunkCounter: UInt64) {
            self.cv = key
            self.chunkCounter = chunkCounter
        }

        var length: Int { BLAKE3.blockLength * blocksCompressed + blockLength }
        var startFlag: UInt32 { blocksCompressed == 0 ? BLAKE3.chunkStart : 0 }

        mutating func update(_ input: ArraySlice<UInt8>) {
            var input = input
            while !input.isEmpty {
                if blockLength == BLAKE3.blockLength {
                    let words = BLAKE3.words(fromBlock: block)
                    cv = Array(BLAKE3.compress(cv, words, chunkCounter, UInt32(BLAKE3.blockLength), startFlag).prefix(8))
                    blocksCompressed += 1
                    block = [UInt8](repeating: 0, count: BLAKE3.blockLength)
                    blockLength = 0
                }
                let take = min(BLAKE3.blockLength - blockLength, input.count)
                block.replaceSubrange(blockLength..<blockLength + take, with: input.prefix(take))
                blockLength += take
                input = input.dropFirst(take)
            }
        }

        func output() -> Output {
            Output(
                inputCV: cv, blockWords: BLAKE3.words(fromBlock: block), counter: chunkCounter,
                blockLength: UInt32(blockLength), flags: startFlag | BLAKE3.chunkEnd)
        }
    }

    private var chunk: ChunkState
    private var cvStack: [[UInt32]] = []

    /// A hasher in plain hash mode.
    public init() {
        chunk = ChunkState(key: Self.iv, chunkCounter: 0)
    }

    private static func parentOutput(_ left: [UInt32], _ right: [UInt32]) -> Output {
        Output(inputCV: iv, blockWords: left + right, counter: 0, blockLength: UInt32(blockLength), flags: parent)
    }

    private mutating func addChunkChainingValue(_ newCV: [UInt32], totalChunks: UInt64) {
        var cv = newCV
        var total = totalChunks
        while total & 1 == 0 {
            cv = Self.parentOutput(cvStack.removeLast(), cv).chainingValue()
            total >>= 1
        }
        cvStack.append(cv)
    }

    /// Adds `data` to the hash.
    public mutating func update<C: Collection<UInt8>>(_ data: C) {
        var input = ArraySlice(data)
        while !input.isEmpty {
            if chunk.length == Self.chunkLength {
                let cv = chunk.output().chainingValue()
                let total = chunk.chunkCounter + 1
                addChunkChainingValue(cv, totalChunks: total)
                chunk = ChunkState(key: Self.iv, chunkCounter: total)
            }
            let take = min(Self.chunkLength - chunk.length, input.count)
            chunk.update(input.prefix(take))
            input = input.dropFirst(take)
        }
    }

    /// The digest of everything added so far (`outputLength` bytes; the first 32 are the hash).
    /// The hasher stays usable.
    public func finalize(outputLength: Int = defaultOutputLength) -> [UInt8] {
        var output = chunk.output()
        var remaining = cvStack.count
        while remaining > 0 {
            remaining -= 1
            output = Self.parentOutput(cvStack[remaining], output.chainingValue())
        }
        return output.rootBytes(outputLength)
    }
}
