import Foundation
import Testing

/// docs/DESIGN.md's table of module edges is Package.swift's: every non-test target, its project
/// dependencies and its external products. Both files are read as text (no SwiftPM API).
@Suite("docs/DESIGN.md's module table matches Package.swift")
struct ModuleGraphTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// One target's edges.
    struct Edges: Equatable, CustomStringConvertible {
        var project: Set<String>
        var products: Set<String>
        var description: String { "\(project.sorted()) [\(products.sorted().joined(separator: ", "))]" }
    }

    /// The non-test targets of `Package.swift`'s text, by name.
    static func packageTargets(_ text: String) -> [String: Edges] {
        let declarations = [".target(", ".executableTarget(", ".systemLibrary(", ".testTarget("]
        var starts: [(String.Index, String)] = []
        for declaration in declarations {
            var from = text.startIndex
            while let found = text.range(of: declaration, range: from..<text.endIndex) {
                starts.append((found.lowerBound, declaration))
                from = found.upperBound
            }
        }
        starts.sort { $0.0 < $1.0 }
        var targets: [String: Edges] = [:]
        for (index, (start, declaration)) in starts.enumerated() where declaration != ".testTarget(" {
            let end = index + 1 < starts.count ? starts[index + 1].0 : text.endIndex
            let chunk = String(text[start..<end])
            guard let name = firstQuoted(after: "name: ", in: chunk) else { continue }
            var edges = Edges(project: [], products: [])
            if let list = bracketed(after: "dependencies: [", in: chunk) {
                var rest = list
                while let product = rest.range(of: ".product(") {
                    guard let close = rest.range(of: ")", range: product.upperBound..<rest.endIndex) else { break }
                    let call = String(rest[product.upperBound..<close.lowerBound])
                    if let productName = firstQuoted(after: "name: ", in: call) { edges.products.insert(productName) }
                    rest.removeSubrange(product.lowerBound..<close.upperBound)
                }
                edges.project = Set(
                    rest.split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) })
            }
            targets[name] = edges
        }
        return targets
    }

    /// The rows of the `| target | depends on |` table in DESIGN.md's text, by name.
    static func designTable(_ text: String) -> [String: Edges] {
        var rows: [String: Edges] = [:]
        var inTable = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("| target | depends on |") {
                inTable = true
                continue
            }
            guard inTable else { continue }
            guard line.hasPrefix("|") else { break }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 2, !cells[0].hasPrefix("---") else { continue }
            let parts = cells[1].split(separator: "[", maxSplits: 1)
            let projectText = parts[0].trimmingCharacters(in: .whitespaces)
            let project = projectText.hasPrefix("nothing") ? [] : projectText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let products =
                parts.count > 1 ? parts[1].replacingOccurrences(of: "]", with: "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : []
            rows[cells[0]] = Edges(project: Set(project), products: Set(products))
        }
        return rows
    }

    static func firstQuoted(after marker: String, in text: String) -> String? {
        guard let found = text.range(of: marker + "\"") else { return nil }
        guard let close = text.range(of: "\"", range: found.upperBound..<text.endIndex) else { return nil }
        return String(text[found.upperBound..<close.lowerBound])
    }

    /// The text inside the brackets that open at `marker` (nested brackets included).
    static func bracketed(after marker: String, in text: String) -> String? {
        guard let found = text.range(of: marker) else { return nil }
        var depth = 1
        var index = found.upperBound
        while index < text.endIndex {
            switch text[index] {
            case "[": depth += 1
            case "]":
                depth -= 1
                if depth == 0 { return String(text[found.upperBound..<index]) }
            default: break
            }
            index = text.index(after: index)
        }
        return nil
    }

    @Test func everyTargetAndEdgeOfPackageSwiftIsInTheTable() throws {
        let package = packageText
        let design = try String(contentsOf: Self.root.appendingPathComponent("docs/DESIGN.md"), encoding: .utf8)
        let targets = Self.packageTargets(package)
        let table = Self.designTable(design)
        #expect(targets.count > 10, "Package.swift was read: \(targets.keys.sorted())")
        #expect(
            Set(table.keys) == Set(targets.keys),
            "missing from DESIGN.md: \(Set(targets.keys).subtracting(table.keys).sorted()); not in Package.swift: \(Set(table.keys).subtracting(targets.keys).sorted())"
        )
        for (name, edges) in targets.sorted(by: { $0.key < $1.key }) {
            #expect(table[name] == edges, "\(name): Package.swift has \(edges), DESIGN.md has \(table[name].map(\.description) ?? "no row")")
        }
    }

    @Test func theReadersSeeADifference() {
        let package = """
            .target(name: "A", dependencies: ["B", .product(name: "GRDB", package: "GRDB.swift")]),
            .target(name: "B"),
            .testTarget(name: "ATests", dependencies: ["A"]),
            """
        let design = "| target | depends on |\n|---|---|\n| A | B [GRDB] |\n| B | nothing (Foundation) |\n\nafter"
        #expect(Self.packageTargets(package) == ["A": Edges(project: ["B"], products: ["GRDB"]), "B": Edges(project: [], products: [])])
        #expect(Self.designTable(design) == Self.packageTargets(package))
        #expect(Self.designTable(design.replacingOccurrences(of: "B [GRDB]", with: "B [GRDB, Yams]")) != Self.packageTargets(package))
    }

    var packageText: String {
        (try? String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)) ?? ""
    }
}
