import Foundation
import Testing

@testable import Secrets

@Suite("Redaction, secret wrapper, references")
struct RedactionTests {
    @Test("registered values are replaced, longest first; short values only as whole values")
    func redactor() {
        let redactor = Redactor()
        redactor.register("abc")  // short: only where it stands alone
        redactor.register("token-1234")
        redactor.register("token-1234-extended")
        redactor.register(Secret("pw-secret"))
        #expect(redactor.count == 4)
        #expect(
            redactor.redact("a=token-1234-extended b=token-1234 c=pw-secret d=abc")
                == "a=‹redacted› b=‹redacted› c=‹redacted› d=‹redacted›")
        #expect(redactor.redact("abc") == "‹redacted›")
        #expect(redactor.redact("xabcx cabbage abcd") == "xabcx cabbage abcd", "inside a word it is left alone")
        #expect(redactor.redact("nothing here") == "nothing here")
    }

    @Test("matching is by bytes: a combining mark after a secret does not hide it")
    func redactorIsByteWise() {
        let redactor = Redactor()
        redactor.register("s3cretTOKEN")
        #expect(redactor.redact("token=s3cretTOKEN\u{301}") == "token=‹redacted›\u{301}")
        redactor.register("é-secret")
        #expect(redactor.redact("x=e\u{301}-secret y=é-secret") == "x=e\u{301}-secret y=‹redacted›", "another byte form is another value")
    }

    @Test("the redactor is safe to use from many threads")
    func concurrentRedactor() async {
        let redactor = Redactor()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<50 {
                group.addTask {
                    redactor.register("value-\(i)-xyz")
                    _ = redactor.redact("value-\(i)-xyz")
                }
            }
        }
        #expect(redactor.count == 50)
        #expect(redactor.redact("value-7-xyz value-49-xyz") == "‹redacted› ‹redacted›")
    }

    @Test("Secret never shows its value")
    func secretWrapper() {
        let secret = Secret("hunter2-password")
        #expect("\(secret)" == "‹redacted›")
        #expect(String(describing: secret) == "‹redacted›")
        #expect(String(reflecting: secret) == "‹redacted›")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        #expect(!"\([secret])".contains("hunter2"))
        #expect(!"\(Optional(secret) as Any)".contains("hunter2"))
        #expect(secret.value == "hunter2-password")
        #expect(Secret("a") == Secret("a"))
    }

    @Test("TokenState never shows its tokens")
    func tokenStateDescription() {
        let state = TokenState(accessToken: "access-canary", refreshToken: "refresh-canary")
        var dumped = ""
        dump(state, to: &dumped)
        for text in ["\(state)", String(reflecting: state), dumped] {
            #expect(!text.contains("canary"))
        }
    }

    @Test("TokenState JSON round trip and Go oauth2 form")
    func tokenStateJSON() throws {
        let state = TokenState(
            accessToken: "a", accessTokenExpiresAt: Date(timeIntervalSince1970: 1_767_225_600.5),
            refreshToken: "r", refreshTokenExpiresAt: Date(timeIntervalSince1970: 1_767_312_000), tokenType: "Bearer")
        #expect(try TokenState(json: state.jsonData()) == state)
        let go = try TokenState(json: Data(#"{"access_token":"x","token_type":"Bearer","expiry":"2026-01-01T00:00:00Z"}"#.utf8))
        #expect(go.accessTokenExpiresAt == Date(timeIntervalSince1970: 1_767_225_600))
        #expect(go.refreshToken == nil)
        #expect(throws: SecretsError.self) { try TokenState(json: Data(#"{"token_type":"Bearer"}"#.utf8)) }
        #expect(throws: SecretsError.self) { try TokenState(json: Data("[]".utf8)) }
        #expect(throws: SecretsError.self) { try TokenState(json: Data(#"{"access_token":"x","expiry":"tomorrow"}"#.utf8)) }
    }

    @Test("token attributes round-trip; `…Token` attributes are secrets; an empty access token is kept")
    func tokenStateAttributes() throws {
        let state = TokenState(
            accessToken: "", accessTokenExpiresAt: Date(timeIntervalSince1970: 1_767_225_600),
            attributes: ["mdAccessToken": "md-token-1234", "tradovate": #"{"signIns":[]}"#])
        #expect(try TokenState(json: state.jsonData()) == state)
        #expect(state.secretValues.contains("md-token-1234") && !state.secretValues.contains(#"{"signIns":[]}"#))
        #expect(throws: SecretsError.self) { try TokenState(json: Data(#"{"attributes":{}}"#.utf8)) }
        // Writing a freshly issued token registers it (and its `…Token` attributes) for redaction.
        let redactor = Redactor()
        let vault = try Vault.open(storage: InMemoryVaultStorage(), key: try makeTestKey(seed: 5), redactor: redactor)
        let issued = TokenState(accessToken: "fresh-access-1234", attributes: ["mdAccessToken": "md-token-1234"])
        _ = try vault.replaceTokenState(for: "tv", expectedVersion: nil, with: issued)
        #expect(redactor.redact("fresh-access-1234 md-token-1234") == "\(Secret<String>.placeholder) \(Secret<String>.placeholder)")
    }

    @Test(
        "secret references",
        arguments: [
            ("secret:tradestation/client_id", "tradestation/client_id"),
            ("secret:a", "a"),
            ("secret:A-b_c.d/e", "A-b_c.d/e"),
        ])
    func validReference(text: String, name: String) throws {
        let reference = try SecretReference(parsing: text)
        #expect(reference.name == name)
        #expect(reference.description == text)
    }

    @Test(
        "invalid references",
        arguments: [
            "tradestation/client_id", "secret:", "secret:has space", "secret:a//b", "secret:/abs", "secret:a/../b",
            "secret:ünï", "Secret:x", "secret:a/", "secret:" + String(repeating: "x", count: 201),
        ])
    func invalidReference(text: String) {
        let error = #expect(throws: SecretsError.self) { try SecretReference(parsing: text) }
        #expect(error?.kind == .invalidSecretReference)
        #expect(error?.message.contains("secret:NAME") == true)
    }

    @Test("isReference only checks the prefix")
    func isReference() {
        #expect(SecretReference.isReference("secret:x"))
        #expect(!SecretReference.isReference("plain"))
    }
}
