import Foundation
import Testing

/// The actor (`Sources/Scheduler/Engine/*.swift`) drives `EngineCore` only through the core's own
/// entry points: it never names one of the machines the core is composed of, nor reads their
/// state through the core. (The machines' state is private to them; the properties holding them
/// are internal only because the core's extensions in other files route to them.) Read as text.
@Suite("The engine actor never reaches into the core's machines")
struct EngineBoundaryTests {
    static let engine = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/Scheduler/Engine")

    /// `core.` followed by one of these names is the actor reaching into a machine.
    static let machineNames = ["runs", "passes", "leases", "ends", "drain", "executions", "ready"]

    @Test func theActorUsesOnlyTheCoresEntryPoints() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.engine.path).filter { $0.hasSuffix(".swift") }.sorted()
        #expect(files.contains("Engine.swift") && files.contains("Engine+Runs.swift"))
        var reaches: [String] = []
        for file in files {
            let text = try String(contentsOf: Self.engine.appendingPathComponent(file), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                for name in Self.machineNames {
                    var rest = line[...]
                    while let found = rest.range(of: "core.\(name)") {
                        let next = rest[found.upperBound...].first
                        if next.map({ !$0.isLetter && !$0.isNumber }) ?? true {
                            reaches.append("\(file):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
                        }
                        rest = rest[found.upperBound...]
                    }
                }
            }
        }
        #expect(reaches.isEmpty, "\(reaches.joined(separator: "\n"))")
    }
}
