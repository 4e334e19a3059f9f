/// Limits that keep a hostile or broken `jobs.yaml` from costing minutes of CPU or gigabytes of
/// memory: a size cap, no aliases in key position (the YAML parser hashes key nodes in full, so
/// `? *lots` multiplies), and a bound on how many nodes the aliases expand to.
enum YAMLGuard {
    /// The largest file read: 16 MiB.
    static let maxBytes = 16 << 20
    /// The most nodes a file with aliases may expand to.
    static let maxExpandedNodes = 100_000

    /// Why `text` is refused before it is parsed, or nil; `scan` is `scan(text)`, which the
    /// caller keeps for ``Scan/aliases``.
    static func problem(beforeParsing text: String, scan: Scan) -> String? {
        let size = text.utf8.count
        if size > maxBytes {
            return "the file is \(size / (1 << 20)) MiB; jobs.yaml may be at most \(maxBytes >> 20) MiB"
        }
        if scan.aliasAsKey {
            return "an alias or a collection is used as a mapping key; jobs.yaml keys are plain text (write the key out instead of `*name` or `? …`)"
        }
        return nil
    }

    /// Why the composed `root` is refused: its aliases expand to too many nodes.
    static func problem(afterComposing root: ConfigNode) -> String? {
        var budget = maxExpandedNodes
        var stack = [root]
        while let node = stack.popLast() {
            budget -= 1
            if budget < 0 {
                return "aliases expand the file to more than \(maxExpandedNodes) nodes (an alias bomb?); write the repeated parts out or use fewer aliases"
            }
            switch node {
            case .mapping(let mapping):
                for (key, value) in mapping {
                    stack.append(key)
                    stack.append(value)
                }
            case .sequence(let sequence): stack.append(contentsOf: sequence)
            default: break
            }
        }
        return nil
    }

    struct Scan {
        var aliases = 0
        var aliasAsKey = false
    }

    /// A lexical pass over `text` outside quoted scalars, comments and block scalars: counts
    /// aliases and notices keys that are aliases, explicit (`? `) or flow collections.
    static func scan(_ text: String) -> Scan {
        if let scanned = text.utf8.withContiguousStorageIfAvailable({ scan(bytes: $0) }) { return scanned }
        return Array(text.utf8).withUnsafeBufferPointer { scan(bytes: $0) }
    }

    /// `scan` of the UTF-8 `bytes` of a text.
    static func scan(bytes: UnsafeBufferPointer<UInt8>) -> Scan {
        var result = Scan()
        let n = bytes.count
        var i = 0
        var lineStart = true
        var indent = 0
        var blockIndent: Int?  // inside a block scalar started on a line indented this much
        var complexKey = false
        func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 }
        func isBreak(_ b: UInt8) -> Bool { b == 10 || b == 13 }
        func isFlow(_ b: UInt8) -> Bool { b == 44 || b == 91 || b == 93 || b == 123 || b == 125 }
        func followedByColon(_ j: Int) -> Bool {
            var k = j
            while k < n, isSpace(bytes[k]) { k += 1 }
            return k < n && bytes[k] == 58 && (k + 1 == n || isSpace(bytes[k + 1]) || isBreak(bytes[k + 1]) || isFlow(bytes[k + 1]))
        }
        while i < n {
            let b = bytes[i]
            if lineStart {
                var j = i
                while j < n, bytes[j] == 32 { j += 1 }
                indent = j - i
                if let block = blockIndent {
                    if j < n, !isBreak(bytes[j]), indent <= block {
                        blockIndent = nil
                    } else {
                        while i < n, !isBreak(bytes[i]) { i += 1 }
                        i += 1
                        continue
                    }
                }
                lineStart = false
                i = j
                continue
            }
            if isBreak(b) {
                lineStart = true
                i += 1
                continue
            }
            let previous: UInt8 = i > 0 ? bytes[i - 1] : 10
            let atToken = isSpace(previous) || isBreak(previous) || previous == 91 || previous == 123 || previous == 44 || i == 0
            switch b {
            case 35 where atToken:  // # comment
                while i < n, !isBreak(bytes[i]) { i += 1 }
                continue
            case 39 where atToken || previous == 58 || previous == 45:  // 'single quoted'
                i += 1
                while i < n {
                    if bytes[i] == 39 {
                        if i + 1 < n, bytes[i + 1] == 39 { i += 2 } else { break }
                    } else {
                        i += 1
                    }
                }
            case 34 where atToken || previous == 58 || previous == 45:  // "double quoted"
                i += 1
                while i < n, bytes[i] != 34 { i += bytes[i] == 92 ? 2 : 1 }
            case 42 where atToken:  // *alias
                var j = i + 1
                while j < n, !isSpace(bytes[j]), !isBreak(bytes[j]), !isFlow(bytes[j]) { j += 1 }
                if j > i + 1 {
                    result.aliases += 1
                    if followedByColon(j) { result.aliasAsKey = true }
                }
                i = j
                continue
            case 63 where atToken && (i + 1 == n || isSpace(bytes[i + 1]) || isBreak(bytes[i + 1])):  // ? explicit key
                complexKey = true
            case 93, 125:  // ] or } closing a collection used as a key
                if followedByColon(i + 1) { complexKey = true }
            case 124 where atToken, 62 where atToken:  // | or > block scalar header
                var j = i + 1
                while j < n, bytes[j] == 43 || bytes[j] == 45 || (bytes[j] >= 48 && bytes[j] <= 57) { j += 1 }
                while j < n, isSpace(bytes[j]) { j += 1 }
                if j == n || isBreak(bytes[j]) || bytes[j] == 35 { blockIndent = indent }
            default: break
            }
            i += 1
        }
        if complexKey && result.aliases > 0 { result.aliasAsKey = true }
        return result
    }
}
