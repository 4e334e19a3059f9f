import Crypto

/// OpenSSH's `bcrypt_pbkdf` (from OpenBSD `lib/libutil/bcrypt_pbkdf.c`), the KDF of
/// passphrase-protected `openssh-key-v1` private keys.
enum BcryptPBKDF {
    private static let hashSize = 32
    private static let magic = Array("OxychromaticBlowfishSwatDynamite".utf8)

    /// `bcrypt_hash`: 64 rounds of the expensive key schedule, then encrypts the magic 64 times.
    static func bcryptHash(sha2Pass: [UInt8], sha2Salt: [UInt8]) -> [UInt8] {
        var blowfish = Blowfish()
        blowfish.expandState(data: sha2Salt, key: sha2Pass)
        for _ in 0..<64 {
            blowfish.expand0State(key: sha2Salt)
            blowfish.expand0State(key: sha2Pass)
        }
        var words = [UInt32]()
        magic.withUnsafeBufferPointer { m in
            var j = 0
            for _ in 0..<(hashSize / 4) { words.append(Blowfish.streamToWord(m, &j)) }
        }
        for _ in 0..<64 { blowfish.encrypt(words: &words) }
        var out = [UInt8]()
        out.reserveCapacity(hashSize)
        for w in words {  // little-endian output, as OpenBSD does
            out += [
                UInt8(truncatingIfNeeded: w), UInt8(truncatingIfNeeded: w >> 8),
                UInt8(truncatingIfNeeded: w >> 16), UInt8(truncatingIfNeeded: w >> 24),
            ]
        }
        return out
    }

    /// Derives `keyLength` bytes from `password` and `salt` with `rounds` iterations.
    static func deriveKey(password: [UInt8], salt: [UInt8], rounds: Int, keyLength: Int) -> [UInt8] {
        precondition(rounds >= 1 && keyLength >= 1 && keyLength <= hashSize * hashSize)
        let stride = (keyLength + hashSize - 1) / hashSize
        var amount = (keyLength + stride - 1) / stride
        let sha2Pass = Array(SHA512.hash(data: password))
        var key = [UInt8](repeating: 0, count: keyLength)
        var remaining = keyLength
        var count: UInt32 = 1
        while remaining > 0 {
            let countSalt =
                salt + [
                    UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16),
                    UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count),
                ]
            var sha2Salt = Array(SHA512.hash(data: countSalt))
            var tmp = bcryptHash(sha2Pass: sha2Pass, sha2Salt: sha2Salt)
            var out = tmp
            if rounds > 1 {
                for _ in 1..<rounds {
                    sha2Salt = Array(SHA512.hash(data: tmp))
                    tmp = bcryptHash(sha2Pass: sha2Pass, sha2Salt: sha2Salt)
                    for i in 0..<out.count { out[i] ^= tmp[i] }
                }
            }
            amount = min(amount, remaining)
            var written = 0
            for i in 0..<amount {
                let dest = i * stride + Int(count - 1)
                if dest >= keyLength { break }
                key[dest] = out[i]
                written += 1
            }
            remaining -= written
            count += 1
        }
        return key
    }
}
