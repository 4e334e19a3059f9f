import Foundation
import SchedctlTesting
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `schedctl serve` as a process, every page loaded in headless Chromium (Debian's
/// `chromium`, installed by `.ci/run`): content checked in the DOM the browser built, and no
/// console errors. Also: the URL is logged, and a port in use fails `serve` at start naming the
/// address and the key. Where Chromium is missing the browser checks say so and are skipped.
@Suite("Status page in a real browser", .serialized)
struct StatusBrowserTests {
    /// The browser, when installed.
    static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs chromium headless with `arguments` + `url`: its stdout and stderr.
    static func browse(_ chromium: String, _ arguments: [String], _ url: String) async throws -> (out: String, err: String) {
        try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: chromium)
            process.arguments =
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--enable-logging=stderr", "--v=0",
                    "--user-data-dir=" + FileManager.default.temporaryDirectory.appendingPathComponent("schedctl-chromium-\(UUID().uuidString)").path,
                ] + arguments + [url]
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
        }
    }

    /// Console messages Chromium logged at error level (`CONSOLE` lines), and uncaught errors.
    static func consoleErrors(_ log: String) -> [String] {
        log.split(separator: "\n").map(String.init).filter { line in
            (line.contains("CONSOLE") && (line.contains("ERROR") || line.contains("Uncaught") || line.contains("Failed to load")))
                || line.contains("Uncaught ")
        }
    }

    /// The URL `serve` logged, once it did.
    static func loggedURL(_ log: String) async throws -> String? {
        var url: String?
        _ = try await pollUntil(within: 60) {
            for line in fileLines(log) where line.contains("status endpoint listening") {
                if let range = line.range(of: #"http://127\.0\.0\.1:[0-9]+/"#, options: .regularExpression) { url = String(line[range]) }
            }
            return url != nil
        }
        return url
    }

    @Test("every page loads in Chromium with its content and no console errors; the screenshot for docs/monitoring.md")
    func pagesInChromium() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-browser")
        let config = directory.file("jobs.yaml")
        try """
        timezone: America/New_York
        database: state.sqlite
        service: { http: { listen: 127.0.0.1:0 } }
        jobs:
          heartbeat: { type: noop, schedule: { every: 1s }, description: "runs every second" }
          nightly-report: { type: noop, paused: true, schedule: { cron: "0 17 * * 1-5" } }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let log = directory.file("serve.log")
        let serve = try SchedctlBinary.serve(config: config, log: log)
        defer { if serve.isRunning { serve.terminate() } }
        let url = try #require(try await Self.loggedURL(log), "no URL logged: \(fileLines(log).joined(separator: "\n"))")
        // Wait for a run to be recorded (a real process: a bounded poll).
        #expect(
            try await pollUntil(within: 60) {
                let (data, _) = try await URLSession.shared.data(from: URL(string: url + "api/runs?limit=1")!)
                return String(decoding: data, as: UTF8.self).contains("succeeded")
            })
        let metrics = try await URLSession.shared.data(from: URL(string: url + "metrics")!)
        #expect(String(decoding: metrics.0, as: UTF8.self).contains("schedctl_up 1"))

        guard let chromium = Self.chromium else {
            print("skipped: chromium is not installed here (apt-get install chromium; .ci/run installs it), so the pages were not loaded in a browser")
            serve.terminate()
            try await exited(serve)
            return
        }
        let pages: [(path: String, expect: [String])] = [
            ("", [#"<section id="jobs">"#, #"<a href="/jobs/heartbeat">heartbeat</a>"#, "nightly-report", "paused", #"<section id="runs">"#, "<time "]),
            ("runs/1", ["Run #1", "succeeded", #"<section id="events">"#]),
            ("jobs/heartbeat", ["heartbeat", "runs every second", "<li>", #"<section id="history">"#]),
            ("jobs/nightly-report", ["cron '0 17 * * 1-5'", "<li>"]),
            ("runs/999999", ["<h1>Not found</h1>", "no run #999999"]),
            ("jobs/missing", ["<h1>Not found</h1>", "no job 'missing'"]),
        ]
        for page in pages {
            let (dom, stderr) = try await Self.browse(chromium, ["--dump-dom"], url + page.path)
            for text in page.expect {
                #expect(dom.localizedCaseInsensitiveContains(text), "/\(page.path) lacks \(text): \(dom.prefix(3000))")
            }
            #expect(Self.consoleErrors(stderr).isEmpty, "/\(page.path): \(Self.consoleErrors(stderr))")
        }
        let screenshot = directory.file("status.png")
        _ = try await Self.browse(chromium, ["--screenshot=\(screenshot)", "--window-size=1200,1100", "--hide-scrollbars"], url)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")
        // `SCHEDCTL_SCREENSHOT=docs/status-page.png swift test --filter StatusBrowserTests` refreshes docs/monitoring.md's.
        if let target = ProcessInfo.processInfo.environment["SCHEDCTL_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: screenshot, toPath: target)
        }
        serve.terminate()
        try await exited(serve)
    }

    @Test("a port in use fails serve at start, naming the address and the key")
    func portInUse() async throws {
        let directory = TemporaryDirectory(prefix: "schedctl-port")
        let config = directory.file("jobs.yaml")
        try "database: state.sqlite\njobs:\n  beat: { type: noop, schedule: { every: 1h } }\n".write(toFile: config, atomically: true, encoding: .utf8)
        let first = try SchedctlBinary.serve(config: config, log: directory.file("first.log"))
        defer { if first.isRunning { first.terminate() } }
        let url = try #require(try await Self.loggedURL(directory.file("first.log")))
        let port = try #require(URL(string: url)?.port)
        let second = try await SchedctlBinary.run(["serve", "--config", config, "--http", "127.0.0.1:\(port)"])
        #expect(second.status != 0)
        #expect(second.stderr.contains("127.0.0.1:\(port)") && second.stderr.contains("service.http.listen"), "\(second.stderr)")
        first.terminate()
        try await exited(first)
    }
}
