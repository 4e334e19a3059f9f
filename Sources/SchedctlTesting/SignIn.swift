import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension SchedctlBinary {
    /// What a TradeStation sign-in through the real binary left behind.
    public struct SignIn: Sendable {
        /// The exit status of `schedctl auth tradestation`.
        public var status: Int32
        /// Everything it printed (standard output and error).
        public var output: String
        /// The HTTP status the callback page answered "the browser" with.
        public var callbackStatus: Int?
    }

    /// Runs `schedctl auth tradestation --config config --port 0` and follows the sign-in URL it
    /// prints as a browser would (the TradeStation simulator redirects to the command's callback
    /// listener); waits for the command to end.
    public static func signInTradeStation(config: String, file: String = #filePath) async throws -> SignIn {
        let auth = Process()
        auth.executableURL = URL(fileURLWithPath: path(file: file))
        auth.arguments = ["auth", "tradestation", "--config", config, "--port", "0", "--timeout", "60"]
        let output = Pipe()
        auth.standardOutput = output
        auth.standardError = output
        try auth.run()
        var printed = ""
        let deadline = Date().addingTimeInterval(30)
        while !printed.contains("Waiting on"), Date() < deadline {
            let handle = output.fileHandleForReading
            printed += String(decoding: try await offPool { handle.availableData }, as: UTF8.self)
        }
        guard let line = printed.split(separator: "\n").first(where: { $0.contains("/authorize?") }),
            let url = URL(string: line.trimmingCharacters(in: .whitespaces))
        else {
            auth.terminate()
            try await exited(auth)
            return SignIn(status: auth.terminationStatus, output: printed, callbackStatus: nil)
        }
        let (_, response) = try await URLSession.shared.data(from: url)
        try await exited(auth)
        let handle = output.fileHandleForReading
        printed += String(decoding: try await offPool { handle.readDataToEndOfFile() }, as: UTF8.self)
        return SignIn(status: auth.terminationStatus, output: printed, callbackStatus: (response as? HTTPURLResponse)?.statusCode)
    }
}
