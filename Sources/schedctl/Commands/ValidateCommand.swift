import ArgumentParser
import Jobs
import Scheduler
import Secrets

/// `schedctl validate`: checks `jobs.yaml` exactly as `serve` would load it, and the secret
/// references against the vault when the vault can be opened without a prompt.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Check the configuration; print every problem with its file, line and fix.")

    @OptionGroup var options: ConfigOptions
    @Option(name: .customLong("ssh-key"), help: "The SSH key of the vault, to check secret references.") var sshKey: String?

    func run() async throws {
        try await exiting {
            let plan = try Wiring.loadPlan(options.path)
            try checkSecretReferences(plan)
            let kinds = Dictionary(grouping: plan.jobs, by: \.kind).map { "\($0.value.count) \($0.key)" }.sorted()
            print(
                "\(plan.source): OK — \(plan.jobs.count) job\(plan.jobs.count == 1 ? "" : "s") (\(kinds.joined(separator: ", "))), \(plan.brokers.count) broker\(plan.brokers.count == 1 ? "" : "s"), database \(plan.database)"
            )
        }
    }

    private func checkSecretReferences(_ plan: Plan) throws {
        let references = plan.secretReferences
        guard !references.isEmpty else { return }
        let vault: Vault
        do {
            let store = try Wiring.openStore(plan)
            let key = try VaultAccess.loadKey(explicitPath: sshKey, configured: plan.secrets.sshKey)
            vault = try VaultAccess.open(store: store, key: key.key, create: false)
        } catch {
            printError("note: \(references.count) secret reference(s) not checked: the vault cannot be opened (\(error))")
            return
        }
        let held = Set((try? vault.list().map(\.name)) ?? [])
        let missing = references.filter { !held.contains($0.name) }
        guard !missing.isEmpty else { return }
        let diagnostics = missing.map {
            Diagnostic(
                file: plan.source, line: 0, column: 0, path: $0.path,
                message: "secret '\($0.name)' is not in the vault; add it with 'schedctl secrets set \($0.name)'")
        }
        throw CommandFailure(message: "invalid configuration\n" + ConfigError(diagnostics: diagnostics).description)
    }
}
