import Yams

/// A node of `jobs.yaml` as `ConfigReader` reads it: a scalar's text, style and place, or a
/// collection's children in one array (a mapping's keys and values alternate), read by index.
///
/// It carries only what the reader uses. Yams' `Node` also carries a `Tag` object and a weak
/// anchor reference in every node, so each copy of a node (the reader copies many) retained
/// and released objects; copying a `ConfigNode` scalar copies its text (usually held inline)
/// and two numbers, and a collection retains one array.
enum ConfigNode {
    case scalar(Scalar)
    case sequence(Sequence)
    case mapping(Mapping)

    /// A 1-based line and column, as Yams' `Mark` (kept in 32 bits each: a node is 32 bytes).
    struct Mark: Equatable, Sendable {
        private var storedLine: Int32
        private var storedColumn: Int32
        var line: Int { Int(storedLine) }
        var column: Int { Int(storedColumn) }
        init(line: Int, column: Int) {
            storedLine = Int32(clamping: line)
            storedColumn = Int32(clamping: column)
        }
    }

    /// A scalar: its text, how it was written, and where it starts.
    struct Scalar {
        /// libyaml's scalar styles, in its order (as Yams' `Node.Scalar.Style`).
        enum Style: UInt8 { case any, plain, singleQuoted, doubleQuoted, literal, folded }
        var string: String
        var style: Style
        var place: Mark
    }

    /// A sequence's items, in order.
    struct Sequence: RandomAccessCollection {
        var items: [ConfigNode]
        var place: Mark
        var startIndex: Int { 0 }
        var endIndex: Int { items.count }
        subscript(position: Int) -> ConfigNode { items[position] }
    }

    /// A mapping's entries, in order; `items` holds each key followed by its value.
    struct Mapping: RandomAccessCollection {
        var items: [ConfigNode]
        var place: Mark
        var startIndex: Int { 0 }
        var endIndex: Int { items.count / 2 }
        subscript(position: Int) -> (key: ConfigNode, value: ConfigNode) { (items[2 * position], items[2 * position + 1]) }
        /// The text of the key of entry `position`, nil when that key is not a scalar.
        func keyText(at position: Int) -> String? {
            if case .scalar(let scalar) = items[2 * position] { return scalar.string }
            return nil
        }
        /// The value of the first entry whose key is the text `key`.
        func value(forKey key: String) -> ConfigNode? {
            for position in indices where keyText(at: position) == key { return items[2 * position + 1] }
            return nil
        }
    }

    /// Where the node starts (always known; optional as Yams' `Node.mark` is).
    var mark: Mark? {
        switch self {
        case .scalar(let scalar): return scalar.place
        case .sequence(let sequence): return sequence.place
        case .mapping(let mapping): return mapping.place
        }
    }

    /// The scalar, when the node is one.
    var scalar: Scalar? {
        if case .scalar(let scalar) = self { return scalar }
        return nil
    }
}

extension ConfigNode {
    /// The node for Yams' `node` (for text Yams composed: `schedctl next --cron`, or when
    /// `YAMLComposer` cannot make marks). An alias, which Yams' composer never leaves in a
    /// tree, becomes an empty plain scalar.
    init(_ node: Node) {
        let place = node.mark.map { Mark(line: $0.line, column: $0.column) } ?? Mark(line: 0, column: 0)
        switch node {
        case .scalar(let scalar):
            self = .scalar(Scalar(string: scalar.string, style: Scalar.Style(rawValue: UInt8(clamping: scalar.style.rawValue)) ?? .any, place: place))
        case .sequence(let sequence):
            self = .sequence(Sequence(items: sequence.map(ConfigNode.init), place: place))
        case .mapping(let mapping):
            var items: [ConfigNode] = []
            items.reserveCapacity(2 * mapping.count)
            for index in mapping.indices {
                let (key, value) = mapping[index]
                items.append(ConfigNode(key))
                items.append(ConfigNode(value))
            }
            self = .mapping(Mapping(items: items, place: place))
        case .alias:
            self = .scalar(Scalar(string: "", style: .plain, place: place))
        }
    }
}
