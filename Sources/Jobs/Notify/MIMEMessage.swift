import Foundation

/// Builds an RFC 5322 message: `multipart/alternative` with a text and an HTML part when there
/// is HTML, else a single text part. Bodies are base64 so no line is too long for SMTP.
struct MIMEMessage {
    var from: String
    var to: [String]
    var subject: String
    var text: String
    var html: String?
    var date: Date
    var messageID: String

    /// The message with CRLF line ends.
    func render() -> Data {
        var lines = [
            "From: \(from)", "To: \(to.joined(separator: ", "))", "Subject: \(Self.encodedHeader(subject))", "Date: \(Self.rfc2822(date))",
            "Message-ID: <\(messageID)>", "MIME-Version: 1.0", "Auto-Submitted: auto-generated",
        ]
        if let html {
            let boundary = "schedctl-\(messageID.prefix(while: { $0 != "@" }))"
            lines.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            lines.append("")
            lines.append("--\(boundary)")
            lines += Self.part("text/plain", text)
            lines.append("--\(boundary)")
            lines += Self.part("text/html", html)
            lines.append("--\(boundary)--")
        } else {
            lines += Self.part("text/plain", text)
        }
        return Data((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    static func part(_ type: String, _ body: String) -> [String] {
        ["Content-Type: \(type); charset=utf-8", "Content-Transfer-Encoding: base64", ""] + base64Lines(body)
    }

    static func base64Lines(_ body: String) -> [String] {
        let encoded = Data(body.utf8).base64EncodedString()
        var lines: [String] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(String(encoded[index..<end]))
            index = end
        }
        return lines
    }

    /// ASCII headers stay as they are; others become an RFC 2047 encoded word.
    static func encodedHeader(_ value: String) -> String {
        let clean = value.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if clean.unicodeScalars.allSatisfy({ $0.isASCII }) { return clean }
        return "=?UTF-8?B?\(Data(clean.utf8).base64EncodedString())?="
    }

    static func rfc2822(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
