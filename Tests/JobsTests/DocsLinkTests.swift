import Foundation
import Testing

/// Relative links in `README.md` and `docs/*.md` lead somewhere: the file exists and, with a
/// `#fragment`, the Markdown file it names has a heading with that anchor (as GitHub makes it).
@Suite("README.md and docs/ link only to files and headings that exist")
struct DocsLinkTests {
    @Test("every relative link in README.md and docs/*.md resolves")
    func repositoryLinksResolve() throws {
        let root = OptionDocsTests.root
        let docs = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        let checker = DocLinkChecker(root: root)
        let links = try (["README.md"] + docs).flatMap { try checker.links(of: $0) }
        #expect(links.count > 20)
        let problems = try checker.problems(in: ["README.md"] + docs)
        #expect(problems == [], "broken links:\n\(problems.joined(separator: "\n"))")
    }

    @Test(
        "anchors are GitHub's: lower case, punctuation dropped, spaces to hyphens, code and link text kept",
        arguments: [
            ("Quick start (Debian 12 with Swift 6.2 or newer)", "quick-start-debian-12-with-swift-62-or-newer"),
            ("Futures sessions (`type: futures-session`)", "futures-sessions-type-futures-session"),
            ("`rebalance` (see [Rebalancing](rebalancing.md))", "rebalance-see-rebalancing"),
            ("JSON output — stable_interfaces", "json-output--stable_interfaces"),
            ("**Daylight saving**, in plain words", "daylight-saving-in-plain-words"),
        ])
    func anchors(heading: String, anchor: String) {
        #expect(DocLinkChecker.anchor(of: heading) == anchor)
    }

    @Test("links are read outside code: inline, images and reference definitions; repeated headings are numbered")
    func linksAndHeadings() {
        let text = """
            # Title
            See [the service](service.md#signals), ![shot](shot.png) and `[not](a-link.md)`.
            [ref]: layout.md
            Absolute [sites](https://example.com) and [mail](mailto:a@example.com) are not checked.
            ```sh
            # not a heading
            [nor](this.md)
            ```
            ## Title
            """
        #expect(DocLinkChecker.targets(in: text) == ["service.md#signals", "shot.png", "layout.md"])
        #expect(DocLinkChecker.anchors(in: text) == ["title", "title-1"])
    }

    @Test("a link to a missing file or heading is reported with its file and line; a good one is not")
    func brokenLinksAreReported() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("docs-links-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("docs"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
        # Front
        [ok](docs/a.md#the-part) [self](#front) [png](docs/shot.png)
        [gone](docs/missing.md)
        [no such part](docs/a.md#other-part) [nor here](#back)
        """.write(to: directory.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        try "# A\n\n## The part\n\n[up](../README.md#front) [down](../docs)\n".write(
            to: directory.appendingPathComponent("docs/a.md"), atomically: true, encoding: .utf8)
        try Data([0x89]).write(to: directory.appendingPathComponent("docs/shot.png"))

        let problems = try DocLinkChecker(root: directory).problems(in: ["README.md", "docs/a.md"])
        #expect(
            problems == [
                "README.md:3: docs/missing.md: no such file",
                "README.md:4: docs/a.md#other-part: docs/a.md has no heading with anchor 'other-part'",
                "README.md:4: #back: README.md has no heading with anchor 'back'",
            ])
    }
}

/// Finds the relative links of Markdown files and checks that their files and anchors exist.
struct DocLinkChecker {
    /// The repository root the files are relative to.
    var root: URL

    /// One link: the line it is on and its target as written.
    struct Link: Equatable {
        var line: Int
        var target: String
    }

    /// The relative links of `file` (a path under ``root``).
    func links(of file: String) throws -> [Link] {
        let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
        return Self.links(in: text)
    }

    /// One line per link in `files` whose file or anchor does not exist.
    func problems(in files: [String]) throws -> [String] {
        var problems: [String] = []
        for file in files {
            for link in try links(of: file) {
                let parts = link.target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let path = parts[0].removingPercentEncoding ?? parts[0]
                let fragment = parts.count > 1 ? parts[1] : ""
                let base = path.hasPrefix("/") ? root : root.appendingPathComponent(file).deletingLastPathComponent()
                let target = path.isEmpty ? root.appendingPathComponent(file) : base.appendingPathComponent(path).standardizedFileURL
                let shown = path.isEmpty ? file : relative(target)
                guard FileManager.default.fileExists(atPath: target.path) else {
                    problems.append("\(file):\(link.line): \(link.target): no such file")
                    continue
                }
                guard !fragment.isEmpty, target.pathExtension == "md" else { continue }
                let text = try String(contentsOf: target, encoding: .utf8)
                if !Self.anchors(in: text).contains(fragment.lowercased()) {
                    problems.append("\(file):\(link.line): \(link.target): \(shown) has no heading with anchor '\(fragment)'")
                }
            }
        }
        return problems
    }

    private func relative(_ url: URL) -> String {
        let base = root.standardizedFileURL.path + "/"
        let path = url.standardizedFileURL.path
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }

    /// The targets of the relative links in `text` (see ``links(in:)``).
    static func targets(in text: String) -> [String] { links(in: text).map(\.target) }

    /// The relative links in `text`: `[text](target)`, `![alt](target)` and `[label]: target`,
    /// outside fenced code and code spans; a target with a scheme (`https:`, `mailto:`) is left out.
    static func links(in text: String) -> [Link] {
        var links: [Link] = []
        for (number, line) in lines(outsideFences: text) {
            let prose = withoutCodeSpans(line)
            var targets: [String] = []
            if let definition = prose.firstMatch(of: /^ {0,3}\[[^\]]+\]:\s*(\S+)/) {
                targets.append(String(definition.1))
            }
            for match in prose.matches(of: /\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/) {
                targets.append(String(match.1))
            }
            for target in targets where !target.isEmpty && target.firstMatch(of: /^[A-Za-z][A-Za-z0-9+.-]*:/) == nil {
                links.append(Link(line: number, target: target))
            }
        }
        return links
    }

    /// The anchors of the ATX headings in `text` outside fenced code, in order; a repeated one gets
    /// `-1`, `-2`, … as on GitHub. `<a id="…">` and `<a name="…">` anchors are included.
    static func anchors(in text: String) -> [String] {
        var anchors: [String] = []
        var seen: [String: Int] = [:]
        for (_, line) in lines(outsideFences: text) {
            for match in line.matches(of: /<a\s+(?:id|name)="([^"]+)"/) { anchors.append(String(match.1)) }
            guard let heading = line.firstMatch(of: /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/) else { continue }
            let anchor = Self.anchor(of: String(heading.1))
            let count = seen[anchor, default: 0]
            seen[anchor] = count + 1
            anchors.append(count == 0 ? anchor : "\(anchor)-\(count)")
        }
        return anchors
    }

    /// GitHub's anchor of a heading: its text (code spans and link text kept, markup dropped) in
    /// lower case, without punctuation or symbols except `-` and `_`, each space a hyphen.
    static func anchor(of heading: String) -> String {
        let text = heading.replacing(/!?\[([^\]]*)\]\([^)]*\)/) { String($0.1) }
        var anchor = ""
        for character in text.lowercased() {
            if character == " " {
                anchor.append("-")
            } else if character.isLetter || character.isNumber || character == "-" || character == "_" {
                anchor.append(character)
            }
        }
        return anchor
    }

    /// The lines of `text` (numbered from 1) that are not inside a fenced code block.
    private static func lines(outsideFences text: String) -> [(Int, String)] {
        var result: [(Int, String)] = []
        var fence: String?
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop(while: { $0 == " " })
            if let open = fence {
                if trimmed.hasPrefix(open) { fence = nil }
                continue
            }
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                fence = String(trimmed.prefix(3))
                continue
            }
            result.append((index + 1, String(line)))
        }
        return result
    }

    /// `line` with its code spans (`` `…` ``) removed.
    private static func withoutCodeSpans(_ line: String) -> String {
        let characters = Array(line)
        var kept = ""
        var index = 0
        while index < characters.count {
            guard characters[index] == "`" else {
                kept.append(characters[index])
                index += 1
                continue
            }
            var end = index
            while end < characters.count, characters[end] == "`" { end += 1 }
            let run = end - index
            // The span closes at the next run of exactly as many backticks; without one, the run is text.
            var close = end
            var found: Int?
            while close < characters.count {
                guard characters[close] == "`" else {
                    close += 1
                    continue
                }
                var after = close
                while after < characters.count, characters[after] == "`" { after += 1 }
                if after - close == run {
                    found = after
                    break
                }
                close = after
            }
            if let found {
                index = found
            } else {
                kept.append(contentsOf: characters[index..<end])
                index = end
            }
        }
        return kept
    }
}
