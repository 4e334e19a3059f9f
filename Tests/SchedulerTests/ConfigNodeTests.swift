import Testing
import Yams

@testable import Scheduler

/// The reader's own tree (`YAMLComposer.composeConfig`) against Yams' (`Yams.compose(yaml:, .basic)`,
/// read into `ConfigNode`s): the same kinds, text, styles and marks, and the same errors.
@Suite("ConfigNode: the reader's tree")
struct ConfigNodeTests {
    @Test("the same tree as Yams'", arguments: YAMLComposerTests.documents)
    func sameTree(_ text: String) throws {
        let ours = try YAMLComposer.composeConfig(text)
        let yams = try Yams.compose(yaml: text, .basic).map(ConfigNode.init)
        #expect(Self.describe(ours) == Self.describe(yams))
        #expect(Self.describe(ours).count > 1 || text == "plain")
    }

    @Test(
        "the same errors at the same places as the composer of Yams' tree",
        arguments: [
            "jobs:\n  a: { type: noop, schedule: { every: 10s }\n  b: [\n", "jobs:\n\ta: 1\n", "a: *missing\n", "a: 1\n---\nb: 2\n",
            "jobs:\n  a: 1\n  b: 2\n  a: 3\n", "x: { b: 1, a: 2, b: 3, a: 4 }\n", "m:\n" + (0..<40).map { "  k\($0): \($0)\n" }.joined() + "  k7: again\n",
            "bad: \u{1}\n",
        ])
    func sameErrors(_ text: String) {
        let ours = Self.problem { () throws(YAMLComposer.Problem) in _ = try YAMLComposer.composeConfig(text) }
        let yamsTree = Self.problem { () throws(YAMLComposer.Problem) in _ = try YAMLComposer.compose(text) }
        #expect(ours == yamsTree)
        #expect(!ours.isEmpty)
    }

    @Test("a mapping reads its keys and values by index")
    func mappingByIndex() throws {
        guard case .mapping(let mapping)? = try YAMLComposer.composeConfig("b: 1\n[x]: 2\na: { c: 3 }\n") else {
            Issue.record("not a mapping")
            return
        }
        #expect(mapping.count == 3)
        #expect((0..<3).map { mapping.keyText(at: $0) } == ["b", nil, "a"])
        #expect(mapping.value(forKey: "a")?.mark == ConfigNode.Mark(line: 3, column: 4))
        #expect(mapping.value(forKey: "z") == nil)
    }

    static func problem(_ body: () throws(YAMLComposer.Problem) -> Void) -> String {
        do { try body() } catch {
            switch error {
            case .syntax(let detail, let line, let column): return "\(line):\(column) \(detail)"
            case .duplicateKeys(let keys, let line, let column): return "\(line):\(column) duplicates \(keys)"
            case .yams(let yamlError): return "\(yamlError)"
            }
        }
        return ""
    }

    /// Every node with its kind, text, style and mark, in order.
    static func describe(_ node: ConfigNode?) -> [String] {
        guard let node else { return ["nil"] }
        let mark = node.mark.map { "\($0.line):\($0.column)" } ?? "-"
        switch node {
        case .scalar(let s): return ["scalar \(mark) \(s.style) \(s.string.debugDescription)"]
        case .sequence(let s): return ["sequence \(mark) \(s.count)"] + s.flatMap { describe($0) }
        case .mapping(let m): return ["mapping \(mark) \(m.count)"] + m.flatMap { describe($0.key) + describe($0.value) }
        }
    }
}
