import Testing
import Yams

@testable import Scheduler

/// `YAMLComposer` against `Yams.compose(yaml:, .basic)`, which it replaces for `jobs.yaml`: the
/// same tree (kinds, text, styles, tags, marks) and the same errors at the same places.
@Suite("YAML composer")
struct YAMLComposerTests {
    static let documents = [
        "jobs:\n  a: { type: noop, schedule: { every: 10s } }\n  b:\n    type: exec\n    command: [\"/bin/echo\", 'hi']\n",
        "timezone: America/New_York  # a comment\ndatabase: state.sqlite\njobs:\n  report:\n    type: report\n    description: |\n      line one\n      line two\n    to: >\n      folded\n      text\n",
        "base: &base { type: noop, retry: { attempts: 3 } }\njobs:\n  a: *base\n  b: { <<: *base, paused: true }\nlist: &l [1, 2, 3]\nagain: *l\n",
        "- one\n- 'two'\n- \"three\\n\"\n- ~\n- \n- [nested, [deeper]]\n- { k: v }\n",
        "tagged: !!str 123\ncustom: !mine value\nseq: !!seq [a]\nmap: !!map { a: b }\nemoji: \"caf\u{E9} \u{1F600}\"\nafter: é and more\n",
        "\"quoted key\": 1\n'single': 2\n? explicit\n: value\nempty:\n",
        "plain",
        "--- \njobs: {}\n...\n",
    ]

    @Test("a marked layout holds: the composer makes marks as Yams does")
    func marks() { #expect(YAMLComposer.marksHold) }

    @Test("the same node tree as Yams", arguments: documents)
    func sameTree(_ text: String) throws {
        let ours = try YAMLComposer.compose(text)
        let yams = try Yams.compose(yaml: text, .basic)
        #expect(Self.describe(ours) == Self.describe(yams))
    }

    @Test("tags shared between nodes resolve as Yams' own do, whichever node resolves first", arguments: documents)
    func sharedTags(_ text: String) throws {
        let ours = Self.nodes(try YAMLComposer.compose(text))
        let yams = Self.nodes(try Yams.compose(yaml: text, .basic))
        try #require(ours.count == yams.count)
        // Resolving ours last-to-first: a tag shared with an earlier node of another kind would
        // take the later node's resolution.
        // (`Node.tag` resolves the node's tag.)
        let oursResolved = ours.reversed().map { "\($0.tag)" }.reversed()
        #expect(Array(oursResolved) == yams.map { "\($0.tag)" })
        #expect(ours.map { "\($0.tag)" } == yams.map { "\($0.tag)" })
    }

    @Test("a mapping's entries in order, each key that is not text reported where it is")
    func mappingEntries() throws {
        let composed = try YAMLComposer.compose("m:\n  b: 1\n  [x]: 2\n  a: { c: 3 }\n  ? { k: v }\n  : 4\n  z:\n")
        let root = try #require(composed)
        let reader = ConfigReader(file: "jobs.yaml", catalog: ConfigCatalog(), baseDirectory: ".")
        let top = try #require(reader.mapping(root, ""))
        let m = try #require(reader.lookup(top, "m"))
        let entries = try #require(reader.mapping(m.value, "m"))
        #expect(entries.map(\.key) == ["b", "a", "z"])
        #expect(entries.map { $0.keyNode.mark?.line } == [2, 4, 7])
        #expect(entries.map { $0.value.mark?.line } == [2, 4, 7])
        #expect(
            reader.diagnostics.map { "\($0.line):\($0.column) \($0.path) \($0.message)" } == [
                "3:3 m keys must be plain text", "5:5 m keys must be plain text",
            ])
    }

    @Test("an empty stream has no root")
    func empty() throws {
        #expect(try YAMLComposer.compose("") == nil)
        #expect(try YAMLComposer.compose("# only a comment\n") == nil)
    }

    @Test(
        "the same errors at the same places as Yams",
        arguments: [
            "jobs:\n  a: { type: noop, schedule: { every: 10s }\n  b: [\n",
            "jobs:\n\ta: 1\n",
            "jobs:\n  a: \"unterminated\n",
            "jobs:\n  a: b: c\n",
            "a: *missing\n",
            "a: 1\n---\nb: 2\n",
            "jobs:\n  a: 1\n  b: 2\n  a: 3\n",
            "x: { b: 1, a: 2, b: 3, a: 4 }\n",
            "m:\n" + (0..<40).map { "  k\($0): \($0)\n" }.joined() + "  k7: again\n",
            "bad: \u{1}\n",
        ])
    func sameErrors(_ text: String) {
        var ours = ""
        do { _ = try YAMLComposer.compose(text) } catch {
            switch error {
            case .syntax(let detail, let line, let column): ours = "\(line):\(column) \(detail)"
            case .duplicateKeys(let keys, let line, let column): ours = "\(line):\(column) duplicates \(keys)"
            case .yams(let yamlError): ours = "\(yamlError)"
            }
        }
        var yams = ""
        do { _ = try Yams.compose(yaml: text, .basic) } catch let error as YamlError {
            switch error {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                yams = "\(mark.line):\(mark.column) " + (context.map { "\(problem) \($0.text)" } ?? problem)
            case .duplicatedKeysInMapping(let duplicates, let context):
                yams = "\(context.mark.line):\(context.mark.column) duplicates \(duplicates)"
            default: yams = "\(error)"
            }
        } catch {
            yams = "\(error)"
        }
        #expect(!ours.isEmpty)
        #expect(ours == yams)
    }

    /// Every node of the tree, in order (a mapping's key before its value).
    static func nodes(_ node: Node?) -> [Node] {
        guard let node else { return [] }
        switch node {
        case .scalar, .alias: return [node]
        case .sequence(let s): return [node] + s.flatMap { nodes($0) }
        case .mapping(let m): return [node] + m.flatMap { nodes($0.key) + nodes($0.value) }
        }
    }

    /// Every node with its kind, text, style, tag and mark, in order.
    static func describe(_ node: Node?) -> [String] {
        guard let node else { return ["nil"] }
        let mark = node.mark.map { "\($0.line):\($0.column)" } ?? "-"
        switch node {
        case .scalar(let s): return ["scalar \(mark) \(s.tag) \(s.style) \(s.string.debugDescription)"]
        case .sequence(let s): return ["sequence \(mark) \(s.tag) \(s.count)"] + s.flatMap { describe($0) }
        case .mapping(let m): return ["mapping \(mark) \(m.tag) \(m.count)"] + m.flatMap { describe($0.key) + describe($0.value) }
        case .alias: return ["alias \(mark)"]
        }
    }
}
