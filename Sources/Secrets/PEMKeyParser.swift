/// A minimal DER reader: enough for PKCS#1, SEC1 and PKCS#8 private keys.
struct DERReader {
    struct Element {
        let tag: UInt8
        let content: [UInt8]
    }

    struct Malformed: Error {}

    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    func peekTag() -> UInt8? { isAtEnd ? nil : bytes[offset] }

    mutating func read() throws -> Element {
        guard offset + 2 <= bytes.count else { throw Malformed() }
        let tag = bytes[offset]
        var length = Int(bytes[offset + 1])
        offset += 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, offset + count <= bytes.count else { throw Malformed() }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[offset])
                offset += 1
            }
        }
        guard length <= bytes.count - offset else { throw Malformed() }
        defer { offset += length }
        return Element(tag: tag, content: Array(bytes[offset..<offset + length]))
    }

    mutating func read(tag: UInt8) throws -> [UInt8] {
        let element = try read()
        guard element.tag == tag else { throw Malformed() }
        return element.content
    }

    mutating func readSequence() throws -> DERReader { DERReader(try read(tag: 0x30)) }
    /// A non-negative INTEGER as its magnitude.
    mutating func readUnsignedInteger() throws -> [UInt8] {
        let content = try read(tag: 0x02)
        guard let first = content.first, first & 0x80 == 0 else { throw Malformed() }
        return Array(content.drop(while: { $0 == 0 }))
    }
}

/// Parser for PEM private keys: PKCS#1 RSA, SEC1 EC and unencrypted PKCS#8 (RSA, EC, Ed25519).
enum PEMKeyParser {
    // OID contents (without tag and length).
    static let rsaEncryption: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
    static let ecPublicKey: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    static let ed25519: [UInt8] = [0x2B, 0x65, 0x70]
    static let curves: [([UInt8], SSHPrivateKey.Curve)] = [
        ([0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07], .p256),
        ([0x2B, 0x81, 0x04, 0x00, 0x22], .p384),
        ([0x2B, 0x81, 0x04, 0x00, 0x23], .p521),
    ]

    static func parse(label: String, der: [UInt8], path: String?) throws(SecretsError) -> SSHPrivateKey {
        do {
            switch label {
            case "RSA PRIVATE KEY": return try pkcs1(der, path: path)
            case "EC PRIVATE KEY": return try sec1(der, curve: nil, path: path)
            default: return try pkcs8(der, path: path)
            }
        } catch let error as SecretsError {
            throw error
        } catch {
            throw .invalidKeyFormat(path, "the \(label) DER structure is damaged or truncated")
        }
    }

    private static func pkcs1(_ der: [UInt8], path: String?) throws -> SSHPrivateKey {
        var outer = DERReader(der)
        var seq = try outer.readSequence()
        let version = try seq.readUnsignedInteger()
        guard version.isEmpty else {
            throw SecretsError.unsupportedKey(path, "multi-prime RSA keys are not supported", fix: "use a two-prime RSA or an ed25519 key")
        }
        let n = try seq.readUnsignedInteger()
        let e = try seq.readUnsignedInteger()
        _ = try seq.readUnsignedInteger()  // d
        let p = try seq.readUnsignedInteger()
        let q = try seq.readUnsignedInteger()
        return try SSHPrivateKey.rsa(n: n, e: e, p: p, q: q, comment: "", path: path)
    }

    private static func sec1(_ der: [UInt8], curve given: SSHPrivateKey.Curve?, path: String?) throws -> SSHPrivateKey {
        var outer = DERReader(der)
        var seq = try outer.readSequence()
        guard try seq.readUnsignedInteger() == [1] else { throw DERReader.Malformed() }
        let scalar = try seq.read(tag: 0x04)
        var curve = given
        var point: [UInt8]?
        while !seq.isAtEnd {
            let element = try seq.read()
            var inner = DERReader(element.content)
            switch element.tag {
            case 0xA0:
                let oid = try inner.read(tag: 0x06)
                guard let named = curves.first(where: { $0.0 == oid })?.1 else {
                    throw SecretsError.unsupportedKey(path, "EC curve is not P-256, P-384 or P-521", fix: "use an ed25519 key")
                }
                curve = named
            case 0xA1:
                let bits = try inner.read(tag: 0x03)
                guard bits.first == 0 else { throw DERReader.Malformed() }
                point = Array(bits.dropFirst())
            default:
                break
            }
        }
        guard let curve else { throw SecretsError.invalidKeyFormat(path, "the EC key does not name its curve") }
        return try SSHPrivateKey.ecdsa(curve: curve, scalar: scalar, publicPoint: point, comment: "", path: path)
    }

    private static func pkcs8(_ der: [UInt8], path: String?) throws -> SSHPrivateKey {
        var outer = DERReader(der)
        var seq = try outer.readSequence()
        _ = try seq.readUnsignedInteger()  // version 0 or 1
        var algorithm = try seq.readSequence()
        let oid = try algorithm.read(tag: 0x06)
        let parameters = algorithm.isAtEnd ? nil : try algorithm.read()
        let privateKey = try seq.read(tag: 0x04)
        switch oid {
        case rsaEncryption:
            return try pkcs1(privateKey, path: path)
        case ecPublicKey:
            guard let parameters, parameters.tag == 0x06,
                let curve = curves.first(where: { $0.0 == parameters.content })?.1
            else {
                throw SecretsError.unsupportedKey(path, "EC curve is not P-256, P-384 or P-521", fix: "use an ed25519 key")
            }
            return try sec1(privateKey, curve: curve, path: path)
        case ed25519:
            var inner = DERReader(privateKey)
            let seed = try inner.read(tag: 0x04)
            return try SSHPrivateKey.ed25519(seed: seed, publicKey: nil, comment: "", path: path)
        default:
            throw SecretsError.unsupportedKey(path, "the PKCS#8 key algorithm is not RSA, ECDSA or Ed25519", fix: "use an ed25519 key")
        }
    }
}
