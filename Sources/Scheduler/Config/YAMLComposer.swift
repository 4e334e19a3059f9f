import CYaml
import Yams

/// Builds `jobs.yaml`'s node tree straight from libyaml's events (the parser Yams bundles), for
/// the reader that turns it into a `Plan`. It gives the same nodes, marks and errors as
/// `Yams.compose(yaml:, .basic)` for a configuration file, at about half the cost: no object per
/// event, no Foundation string decoding per scalar, and duplicate keys found by their text in
/// one dictionary per mapping (Yams groups every mapping's keys by hashing whole nodes).
///
/// Collections are built on an explicit stack, so deep nesting cannot overflow the call stack.
enum YAMLComposer {
    /// Why a text is not one YAML document of a configuration file.
    enum Problem: Error {
        /// A scanner, parser or composer error: what libyaml (or the composer) says, and where.
        case syntax(detail: String, line: Int, column: Int)
        /// Keys repeated in one mapping (sorted), and where the first of them first appears.
        case duplicateKeys([String], line: Int, column: Int)
        /// A reader (encoding) or memory error, as Yams reports it.
        case yams(YamlError)
    }

    /// The root node of `text` as Yams' tree, nil for an empty stream.
    static func compose(_ text: String) throws(Problem) -> Node? {
        try compose(text, into: YamsTree())
    }

    /// The root node of `text` as the reader's tree, nil for an empty stream.
    static func composeConfig(_ text: String) throws(Problem) -> ConfigNode? {
        try compose(text, into: ConfigTree())
    }

    static func compose<Tree: YAMLTree>(_ text: String, into tree: Tree) throws(Problem) -> Tree.Node? {
        var text = text
        let yaml = text
        let result: Result<Tree.Node?, Problem> = text.withUTF8 { bytes in
            let composer = Composer(yaml: yaml, bytes: bytes, tree: tree)
            do throws(Problem) { return .success(try composer.root()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// A `Mark` at 1-based `line` and `column`. Yams has no public initializer for `Mark` (two
    /// `Int`s, line then column), so it is made from those two fields; `marksHold` checks that
    /// layout against a `Mark` Yams made, and the reader uses Yams' own composer when it does not.
    static func mark(line: Int, column: Int) -> Mark { unsafeBitCast((line, column), to: Mark.self) }

    /// Whether `mark(line:column:)` makes the marks Yams makes.
    static let marksHold: Bool = {
        guard MemoryLayout<Mark>.size == MemoryLayout<(Int, Int)>.size, MemoryLayout<Mark>.alignment == MemoryLayout<(Int, Int)>.alignment,
            let made = (try? Yams.compose(yaml: "\n  key: value", .basic))??.mark, made.line == 2, made.column == 3
        else { return false }
        let ours = mark(line: 2, column: 3)
        return ours.line == made.line && ours.column == made.column
    }()

    /// One pass over the events of one text, making `Tree`'s nodes.
    private final class Composer<Tree: YAMLTree> {
        let yaml: String
        let initialTree: Tree
        var parser = yaml_parser_t()
        var event = yaml_event_t()
        var hasEvent = false

        /// A collection being built: where its items start in ``State/pending`` (a mapping's
        /// keys and values alternate), and what its start event said.
        struct Open {
            var isMapping: Bool
            var start: Int
            var tag: String?
            var style: UInt32
            var line: Int
            var column: Int
            var anchor: String?
        }

        /// What the pass builds, kept in a local variable (a class's stored properties are
        /// checked for exclusive access at run time on every use).
        struct State {
            var tree: Tree
            var anchors: [String: Tree.Node] = [:]
            var stack: [Open] = []
            /// The items of every open collection, innermost last: a completed collection takes
            /// its own off the end, into an array of exactly its size.
            var pending: [Tree.Node] = []
        }

        init(yaml: String, bytes: UnsafeBufferPointer<UInt8>, tree: Tree) {
            self.yaml = yaml
            self.initialTree = tree
            yaml_parser_initialize(&parser)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
        }

        deinit {
            if hasEvent { yaml_event_delete(&event) }
            yaml_parser_delete(&parser)
        }

        /// Reads the next event into `event`.
        func next() throws(Problem) {
            if hasEvent {
                yaml_event_delete(&event)
                hasEvent = false
            }
            guard yaml_parser_parse(&parser, &event) == 1 else { throw problem() }
            hasEvent = true
        }

        func startMark() -> Mark { YAMLComposer.mark(line: event.start_mark.line + 1, column: event.start_mark.column + 1) }

        static func string(_ pointer: UnsafePointer<UInt8>?) -> String? { pointer.map { String(cString: $0) } }

        /// The document's root, as `Yams.compose` (`Parser.singleRoot`) gives it.
        func root() throws(Problem) -> Tree.Node? {
            try next()  // stream start
            try next()
            if event.type == YAML_STREAM_END_EVENT { return nil }
            // A document start: its content follows.
            var root: Tree.Node?
            var state = State(tree: initialTree)
            try next()
            while root == nil {
                root = try consume(&state)
                if root == nil { try next() }
            }
            try next()  // document end
            try next()
            if event.type != YAML_STREAM_END_EVENT {
                let mark = startMark()
                throw .syntax(detail: "but found another document expected a single document in the stream", line: mark.line, column: mark.column)
            }
            return root
        }

        /// Takes the current event; returns the root once the outermost node is complete.
        func consume(_ state: inout State) throws(Problem) -> Tree.Node? {
            let node: Tree.Node
            switch event.type {
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                // A mapping key's implicit tag is resolved (with no rules: `str`), as Yams' duplicate
                // check leaves it when it hashes the key.
                let isKey = state.stack.last.map { $0.isMapping && (state.pending.count - $0.start) % 2 == 0 } ?? false
                node = state.tree.scalar(
                    value, tag: scalar.quoted_implicit == 1 || (isKey && scalar.tag == nil) ? Tag.Name.str.rawValue : Self.string(scalar.tag),
                    style: scalar.style.rawValue, line: event.start_mark.line + 1, column: event.start_mark.column + 1)
                if let anchor = Self.string(scalar.anchor) { state.anchors[anchor] = node }
            case YAML_ALIAS_EVENT:
                guard let name = Self.string(event.data.alias.anchor), let target = state.anchors[name] else {
                    let mark = startMark()
                    throw .syntax(detail: "found undefined alias", line: mark.line, column: mark.column)
                }
                node = target
            case YAML_SEQUENCE_START_EVENT:
                let start = event.data.sequence_start
                state.stack.append(
                    Open(
                        isMapping: false, start: state.pending.count, tag: start.implicit != 0 ? nil : Self.string(start.tag), style: start.style.rawValue,
                        line: event.start_mark.line + 1, column: event.start_mark.column + 1, anchor: Self.string(start.anchor)))
                return nil
            case YAML_MAPPING_START_EVENT:
                let start = event.data.mapping_start
                state.stack.append(
                    Open(
                        isMapping: true, start: state.pending.count, tag: start.implicit != 0 ? nil : Self.string(start.tag), style: start.style.rawValue,
                        line: event.start_mark.line + 1, column: event.start_mark.column + 1, anchor: Self.string(start.anchor)))
                return nil
            case YAML_SEQUENCE_END_EVENT:
                let open = state.stack.removeLast()
                let items = Array(state.pending[open.start...])
                state.pending.removeSubrange(open.start...)
                node = state.tree.sequence(items, tag: open.tag, style: open.style, line: open.line, column: open.column)
                if let anchor = open.anchor { state.anchors[anchor] = node }
            case YAML_MAPPING_END_EVENT:
                let open = state.stack.removeLast()
                let items = Array(state.pending[open.start...])
                state.pending.removeSubrange(open.start...)
                if Self.mayRepeat(items, state.tree) {
                    let keys = stride(from: 0, to: items.count - 1, by: 2).map { state.tree.text(ofKey: items[$0]) }
                    if let repeated = Self.repeated(keys) {
                        let first = state.tree.place(of: items[2 * keys.firstIndex(of: repeated[0])!])
                        throw .duplicateKeys(repeated, line: first.line, column: first.column)
                    }
                }
                node = state.tree.mapping(items, tag: open.tag, style: open.style, line: open.line, column: open.column)
                if let anchor = open.anchor { state.anchors[anchor] = node }
            default:
                return nil
            }
            if state.stack.isEmpty { return node }
            state.pending.append(node)
            return nil
        }

        /// Whether a mapping's keys (its even `items`) may repeat: false when a few keys are
        /// compared pairwise and differ, without collecting them.
        static func mayRepeat(_ items: [Tree.Node], _ tree: Tree) -> Bool {
            let count = items.count / 2
            guard count <= 16 else { return true }
            for i in 0..<count {
                guard let key = tree.text(ofKey: items[2 * i]) else { continue }
                for j in (i + 1)..<count where tree.text(ofKey: items[2 * j]) == key { return true }
            }
            return false
        }

        /// The scalar keys (`keys`, nil for a key that is not a scalar) used more than once,
        /// sorted; a few keys are compared pairwise, more through a set.
        static func repeated(_ keys: [String?]) -> [String]? {
            var repeated: Set<String> = []
            if keys.count <= 16 {
                for i in keys.indices {
                    guard let key = keys[i] else { continue }
                    for j in keys.indices where j > i && keys[j] == key { repeated.insert(key) }
                }
            } else {
                var seen: Set<String> = []
                seen.reserveCapacity(keys.count)
                for case let key? in keys where !seen.insert(key).inserted { repeated.insert(key) }
            }
            return repeated.isEmpty ? nil : repeated.sorted()
        }

        /// The parser's error, as Yams words it.
        func problem() -> Problem {
            let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
            switch parser.error {
            case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
                let context = parser.context.map { String(cString: $0) }
                return .syntax(
                    detail: context.map { "\(problem) \($0)" } ?? problem, line: parser.problem_mark.line + 1, column: parser.problem_mark.column + 1)
            case YAML_READER_ERROR:
                let offset = yaml.utf8.index(yaml.utf8.startIndex, offsetBy: parser.problem_offset, limitedBy: yaml.utf8.endIndex)?
                    .samePosition(in: yaml).map { yaml.distance(from: yaml.startIndex, to: $0) }
                return .yams(.reader(problem: problem, offset: offset, value: parser.problem_value, yaml: yaml))
            default:
                return .yams(.memory)
            }
        }
    }
}

/// What `YAMLComposer` makes nodes of. A mapping's `items` are its keys and values, alternating;
/// `tag` is the tag name libyaml gave (nil: implicit), `line` and `column` are 1-based.
protocol YAMLTree {
    associatedtype Node
    mutating func scalar(_ value: String, tag: @autoclosure () -> String?, style: UInt32, line: Int, column: Int) -> Node
    mutating func sequence(_ items: [Node], tag: String?, style: UInt32, line: Int, column: Int) -> Node
    mutating func mapping(_ items: [Node], tag: String?, style: UInt32, line: Int, column: Int) -> Node
    /// The text of a mapping key, nil when the key is not a scalar (for the duplicate check).
    func text(ofKey node: Node) -> String?
    /// Where `node` starts.
    func place(of node: Node) -> (line: Int, column: Int)
}

/// Yams' own `Node` tree, as `Yams.compose(yaml:, .basic)` makes it.
struct YamsTree: YAMLTree {
    /// Yams' default constructor, made once per file (`Constructor.default` builds a new one,
    /// with its tables, on every use) and shared by every tag, as `Parser` shares its own.
    let constructor = Constructor.default

    /// One `Tag` per tag name and kind of node, shared by every node that has it (a file of
    /// 100,000 jobs has about a million nodes; a `Tag` is an object). Sharing is safe: with the
    /// `.basic` resolver a tag resolves by the kind of its node alone (`str`, `seq`, `map`),
    /// which is why the kinds keep separate tags, and nothing else changes a tag.
    var scalarTags: [String?: Tag] = [:]
    var sequenceTags: [String?: Tag] = [:]
    var mappingTags: [String?: Tag] = [:]

    func tag(_ name: String?, in tags: inout [String?: Tag]) -> Tag {
        if let shared = tags[name] { return shared }
        let made = Tag(name.map(Tag.Name.init(rawValue:)) ?? .implicit, .basic, constructor)
        tags[name] = made
        return made
    }

    mutating func scalar(_ value: String, tag name: @autoclosure () -> String?, style: UInt32, line: Int, column: Int) -> Node {
        .scalar(
            Node.Scalar(
                value, tag(name(), in: &scalarTags), Node.Scalar.Style(rawValue: style) ?? .any, YAMLComposer.mark(line: line, column: column)))
    }

    mutating func sequence(_ items: [Node], tag name: String?, style: UInt32, line: Int, column: Int) -> Node {
        .sequence(
            Node.Sequence(items, tag(name, in: &sequenceTags), Node.Sequence.Style(rawValue: style) ?? .any, YAMLComposer.mark(line: line, column: column)))
    }

    mutating func mapping(_ items: [Node], tag name: String?, style: UInt32, line: Int, column: Int) -> Node {
        var pairs: [(Node, Node)] = []
        pairs.reserveCapacity(items.count / 2)
        var index = 0
        while index + 1 < items.count {
            pairs.append((items[index], items[index + 1]))
            index += 2
        }
        return .mapping(
            Node.Mapping(pairs, tag(name, in: &mappingTags), Node.Mapping.Style(rawValue: style) ?? .any, YAMLComposer.mark(line: line, column: column)))
    }

    func text(ofKey node: Node) -> String? {
        if case .scalar(let scalar) = node { return scalar.string }
        return nil
    }

    func place(of node: Node) -> (line: Int, column: Int) { (node.mark?.line ?? 0, node.mark?.column ?? 0) }
}

/// The reader's `ConfigNode` tree: no tags, anchors or styles of collections.
struct ConfigTree: YAMLTree {
    func scalar(_ value: String, tag: @autoclosure () -> String?, style: UInt32, line: Int, column: Int) -> ConfigNode {
        .scalar(
            ConfigNode.Scalar(
                string: value, style: ConfigNode.Scalar.Style(rawValue: UInt8(clamping: style)) ?? .any, place: ConfigNode.Mark(line: line, column: column)))
    }

    func sequence(_ items: [ConfigNode], tag: String?, style: UInt32, line: Int, column: Int) -> ConfigNode {
        .sequence(ConfigNode.Sequence(items: items, place: ConfigNode.Mark(line: line, column: column)))
    }

    func mapping(_ items: [ConfigNode], tag: String?, style: UInt32, line: Int, column: Int) -> ConfigNode {
        .mapping(ConfigNode.Mapping(items: items, place: ConfigNode.Mark(line: line, column: column)))
    }

    func text(ofKey node: ConfigNode) -> String? { node.scalar?.string }

    func place(of node: ConfigNode) -> (line: Int, column: Int) { (node.mark?.line ?? 0, node.mark?.column ?? 0) }
}
