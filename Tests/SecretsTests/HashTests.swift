import Foundation
import Testing

@testable import Secrets

@Suite("BLAKE3")
struct BLAKE3Tests {
    static func input(_ length: Int) -> [UInt8] { (0..<length).map { UInt8($0 % 251) } }

    // Official test vectors (input = 0, 1, …, 250, 0, 1, …), first 32 bytes of `hash`.
    static let vectors: [(Int, String)] = [
        (0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"),
        (1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"),
        (1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"),
        (1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"),
        (1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"),
        (2048, "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a"),
        (2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030"),
        (3072, "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2"),
        (3073, "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3"),
        (4096, "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969"),
        (4097, "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995"),
        (5120, "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833"),
        (5121, "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff"),
        (6144, "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205"),
        (6145, "f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f"),
        (7168, "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a"),
        (7169, "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817"),
        (8192, "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63"),
        (8193, "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b"),
        (16384, "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4"),
        (31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47"),
        (102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085"),
    ]

    @Test("official vectors", arguments: vectors)
    func officialVector(length: Int, expected: String) {
        #expect(Hex.encode(BLAKE3.hash(Self.input(length))) == expected)
    }

    @Test("incremental updates equal one-shot hashing across chunk boundaries")
    func incremental() {
        let data = Self.input(5121)
        var hasher = BLAKE3()
        var offset = 0
        for size in [1, 63, 64, 65, 1024, 7, 2048, 1849] {
            hasher.update(data[offset..<offset + size])
            offset += size
        }
        #expect(offset == data.count)
        #expect(hasher.finalize() == BLAKE3.hash(data))
    }

    @Test("extendable output (vectors from the blake3 Python package)")
    func extendableOutput() {
        #expect(
            Hex.encode(BLAKE3.hash(Self.input(1025), outputLength: 100))
                == "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444f4c4a22b4b399155358a994e52bf255de60035742ec71bd08ac275a1b51cc6bfe332b0ef84b409108cda080e6269ed4b3e2c3f7d722aa4cdc98d16deb554e5627be8f955"
        )
        #expect(
            Hex.encode(BLAKE3.hash([], outputLength: 131))
                == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262e00f03e7b69af26b7faaf09fcd333050338ddfe085b8cc869ca98b206c08243a26f5487789e8f660afe6c99ef9e0c52b92e7393024a80459cf91f476f9ffdbda7001c22e159b402631f277ca96f2defdf1078282314e763699a31c5363165421cce14d"
        )
    }
}

@Suite("Blowfish and bcrypt_pbkdf")
struct BcryptTests {
    @Test("Blowfish tables come from pi")
    func tables() {
        #expect(BlowfishTables.p.count == 18)
        #expect([BlowfishTables.s0, BlowfishTables.s1, BlowfishTables.s2, BlowfishTables.s3].allSatisfy { $0.count == 256 })
        #expect(BlowfishTables.p[0] == 0x243F_6A88 && BlowfishTables.p[17] == 0x8979_FB1B)
        #expect(BlowfishTables.s0[0] == 0xD131_0BA6 && BlowfishTables.s3[255] == 0x3AC3_72E6)
    }

    // Eric Young's Blowfish ECB vectors (key, plaintext, ciphertext).
    @Test(
        "Blowfish ECB vectors",
        arguments: [
            ("0000000000000000", "0000000000000000", "4EF997456198DD78"),
            ("FFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFF", "51866FD5B85ECB8A"),
            ("3000000000000000", "1000000000000001", "7D856F9A613063F2"),
            ("0123456789ABCDEF", "1111111111111111", "61F9C3802281B096"),
            ("FEDCBA9876543210", "0123456789ABCDEF", "0ACEAB0FC6A0A28D"),
        ])
    func blowfishVector(key: String, plaintext: String, ciphertext: String) {
        let cipher = Blowfish(key: Hex.decode(key)!)
        let p = Hex.decode(plaintext)!
        var l = UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
        var r = UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7])
        cipher.encrypt(&l, &r)
        #expect(String(format: "%08X%08X", l, r) == ciphertext)
    }

    // Reference values from `bcrypt.kdf` (pyca/bcrypt 5.0.0), computed when these tests were written.
    @Test(
        "bcrypt_pbkdf vectors",
        arguments: [
            ("password", "salt", 32, 4, "5bbf0cc293587f1c3635555c27796598d47e579071bf427e9d8fbe842aba34d9"),
            (
                "password", "salt", 64, 16,
                "c339d704ec235f27690d3f12167c05a55bf86d572f270adbf9fe04c379da5f8c7942a939245dbb39ebe26fc2bd19b88b05f3e85024c509d5d5db6d821e7663e2"
            ),
            (
                "x", "saltsaltsaltsalt", 72, 1,
                "8bbfb1ec973fb6946060c222a07f97bfb9621598d1b9166411ed41a8549bd778355391bf8bbf693a398ff6f03bd49a6c9bb9df9b804fb193b511bed67e58a70a3a6ff567edad0642"
            ),
        ])
    func bcryptVector(password: String, salt: String, length: Int, rounds: Int, expected: String) {
        let key = BcryptPBKDF.deriveKey(password: Array(password.utf8), salt: Array(salt.utf8), rounds: rounds, keyLength: length)
        #expect(Hex.encode(key) == expected)
    }

    @Test("bcrypt_pbkdf with binary salt and a non-ASCII password")
    func bcryptBinarySalt() {
        let key = BcryptPBKDF.deriveKey(
            password: Array("passphrase-€".utf8), salt: Array(0..<16), rounds: 16, keyLength: 48)
        #expect(Hex.encode(key) == "456cc2d4d095185907d9c04e9a4b77b7fac911c6fddbd6c9378dab8926da5dd8ed6e515fec2656f76e0d3c0fa81b5c59")
        let short = BcryptPBKDF.deriveKey(
            password: Array("correct horse battery staple".utf8), salt: Array(0..<16), rounds: 3, keyLength: 16)
        #expect(Hex.encode(short) == "e808a131ec0ff69296d5b343961a0713")
    }
}
