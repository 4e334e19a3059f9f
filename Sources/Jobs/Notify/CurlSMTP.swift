import CCurl
import Foundation

/// One SMTP submission through the system libcurl (blocking; run off the cooperative pool).
struct CurlSMTP {
    /// How the connection is secured.
    enum Security: Equatable {
        /// `smtps://`: TLS from the first byte.
        case implicitTLS
        /// `smtp://`: STARTTLS required before anything else is sent.
        case startTLS
        /// `smtp://` in clear (a relay on this machine only).
        case plain
    }

    var url: String
    var security: Security
    var username: String?
    var password: String?
    var from: String
    var recipients: [String]
    var caFile: String?
    var timeoutSeconds = 60

    /// `curl_global_init(CURL_GLOBAL_DEFAULT)` (SSL | WIN32 = 3), once per process.
    private static let initialised: Bool = curl_global_init(3) == CURLE_OK

    /// What curl reported: its code, the last SMTP reply code and its error text.
    struct Failure: Error {
        /// The `CURLcode`.
        var code: Int
        var reply: Int
        var text: String
    }

    /// Sends `message` (CRLF lines). Throws `Failure`.
    func send(_ message: Data) throws(Failure) {
        guard Self.initialised, let handle = curl_easy_init() else {
            throw Failure(code: Int(CURLE_FAILED_INIT.rawValue), reply: 0, text: "libcurl did not start")
        }
        defer { curl_easy_cleanup(handle) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var recipientList: UnsafeMutablePointer<curl_slist>?
        for recipient in recipients { recipientList = curl_slist_append(recipientList, "<\(recipient)>") }
        defer { curl_slist_free_all(recipientList) }
        let payload = Payload(data: message)
        let unmanaged = Unmanaged.passRetained(payload)
        defer { unmanaged.release() }

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { buffer in
            var setup = CURLE_OK
            func set(_ result: CURLcode) { if setup == CURLE_OK { setup = result } }
            set(sc_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, buffer.baseAddress))
            set(sc_curl_setopt_string(handle, CURLOPT_URL, url))
            set(sc_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
            set(sc_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, 15))
            set(sc_curl_setopt_long(handle, CURLOPT_TIMEOUT, timeoutSeconds))
            set(sc_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps"))
            set(sc_curl_setopt_long(handle, CURLOPT_USE_SSL, Self.useSSL(security)))
            if let caFile { set(sc_curl_setopt_string(handle, CURLOPT_CAINFO, caFile)) }
            if let username { set(sc_curl_setopt_string(handle, CURLOPT_USERNAME, username)) }
            if let password { set(sc_curl_setopt_string(handle, CURLOPT_PASSWORD, password)) }
            set(sc_curl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(from)>"))
            set(sc_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipientList))
            set(sc_curl_setopt_long(handle, CURLOPT_UPLOAD, 1))
            set(sc_curl_setopt_read_function(handle, curlReadPayload))
            set(sc_curl_setopt_pointer(handle, CURLOPT_READDATA, unmanaged.toOpaque()))
            guard setup == CURLE_OK else {
                _ = sc_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, nil)
                return setup
            }
            let performed = curl_easy_perform(handle)
            // The buffer lives only inside this closure: curl must not keep its address.
            _ = sc_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, nil)
            return performed
        }
        guard code != CURLE_OK else { return }
        var reply = 0
        _ = sc_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &reply)
        var text = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.isEmpty, let description = curl_easy_strerror(code) { text = String(validatingCString: description) ?? "" }
        throw Failure(code: Int(code.rawValue), reply: reply, text: text)
    }

    static func useSSL(_ security: Security) -> Int {
        switch security {
        case .implicitTLS, .startTLS: return Int(CURLUSESSL_ALL.rawValue)
        case .plain: return Int(CURLUSESSL_NONE.rawValue)
        }
    }
}

/// The bytes curl reads, with a read position.
private final class Payload {
    let data: Data
    var offset = 0
    init(data: Data) { self.data = data }
}

/// curl's read callback: copies the next slice of the payload.
private func curlReadPayload(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userData: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let userData else { return 0 }
    let payload = Unmanaged<Payload>.fromOpaque(userData).takeUnretainedValue()
    let length = min(size * count, payload.data.count - payload.offset)
    guard length > 0 else { return 0 }
    payload.data.withUnsafeBytes { bytes in
        UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + payload.offset, byteCount: length)
    }
    payload.offset += length
    return length
}
