import ArgumentParser
import Brokers
import Foundation
import Inspection
import Jobs
import Scheduler
import Secrets

/// `schedctl rebalance …`: tools around rebalance jobs.
struct RebalanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebalance", abstract: "Look at a rebalance job's plan before it runs.", subcommands: [RebalancePlanCommand.self])
}

/// `schedctl rebalance plan JOB [--json]`: the read-only plan right now.
struct RebalancePlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what a rebalance job would trade right now (reads only; places and validates nothing).")

    @OptionGroup var target: JobArgument
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await exiting {
            let (plan, spec) = try target.load()
            guard spec.typedOptions is RebalanceOptions else {
                throw CommandFailure(message: "\(spec.name) is type \(spec.kind), not \(RebalanceJob.descriptor.name)", code: 64)
            }
            let store = try Wiring.openStore(plan)
            let secrets = Wiring.secrets(for: plan, store: store)
            let kind = RebalanceJob(resources: .standard(plan: PlanHolder(plan), factory: Wiring.brokerFactory(store: store, secrets: secrets)))
            let result: RebalancePlan
            do {
                result = try await kind.preview(job: spec)
            } catch {
                throw CommandFailure(message: Wiring.redactor.redact("\(spec.name): \(error)"))
            }
            if json {
                print(try JSONText.encode(result))
                return
            }
            print(
                "equity \(result.equity.plainString)  cash \(result.cash.plainString)  buying power \(result.buyingPower.plainString)  "
                    + "cash buffer \(result.cashBuffer.plainString)  gross to trade \(result.grossValue.plainString)")
            var table = TextTable(headers: ["symbol", "held", "weight", "target", "target qty", "delta", "price", "value", "note"])
            for l in result.lines {
                table.add([
                    l.symbol, l.currentQuantity.plainString, percent(l.currentWeight), percent(l.targetWeight), l.targetQuantity.plainString,
                    l.side == nil ? "-" : "\(l.side == .buy ? "+" : "")\(l.delta.plainString)", l.estimatedPrice?.plainString ?? "-",
                    l.side == nil ? "-" : l.estimatedValue.plainString, l.skip ?? "",
                ])
            }
            print(table.render())
            for w in result.warnings { print("warning: \(w)") }
        }
    }

    private func percent(_ d: Decimal) -> String { "\((d * 100).rounded(scale: 2).plainString)%" }
}
