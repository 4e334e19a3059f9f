import Foundation
public import Scheduler

/// The one way a trading job does a side effect: an intent journal kept in the run's checkpoint.
///
/// Before an external call the journal records the intent (step, target, idempotency key); after
/// it, the outcome (order id, fill, delivery id). When a run is resumed after a takeover or a
/// retry, a step whose intent has no outcome is reconciled first (ask the broker for the order by
/// its key, ask the notifier's log) and only acted on again when reconciliation says it never
/// happened. Every write goes through the run's fenced checkpoint, so a stale owner cannot write.
///
/// ```swift
/// let journal = try await IntentJournal.open(context, initial: RebalanceState())
/// let placed = try await journal.perform(step: "sell/1/AAPL", target: "tradestation", what: "sell 10 AAPL") { key in
///     try await broker.order(confirmID: key)          // reconcile: did it happen already?
/// } act: { key in
///     try await broker.place(order, confirmID: key)   // the side effect, keyed
/// }
/// ```
public actor IntentJournal<State: Codable & Sendable> {
    /// One side effect: its intent and, once known, its outcome.
    public struct Entry: Codable, Sendable, Hashable {
        /// The step name, unique within the run and independent of the lease generation.
        public var step: String
        /// The idempotency key sent with the request (at most 22 characters).
        public var key: String
        /// Who the request goes to (a broker or notifier name).
        public var target: String
        /// What the request does, for people.
        public var what: String
        /// The outcome as JSON, once recorded.
        public var outcome: String?
        /// The last error of an attempt whose result is unknown.
        public var lastError: String?
        /// How many times the side effect was attempted.
        public var attempts: Int
    }

    private struct Document: Codable {
        var version = 1
        var state: State
        var journal: [Entry]
    }

    private let context: RunContext
    private var document: Document
    /// Whether the journal was found in an earlier checkpoint (this attempt resumes a run).
    public nonisolated let resumed: Bool

    private init(context: RunContext, document: Document, resumed: Bool) {
        self.context = context
        self.document = document
        self.resumed = resumed
    }

    /// Loads the run's journal from its checkpoint, or starts one with `initial` state.
    public static func open(_ context: RunContext, initial: @autoclosure () -> State) async throws -> IntentJournal {
        if let text = try await context.checkpoints.load(), !text.isEmpty {
            do {
                let document = try JSONDecoder().decode(Document.self, from: Data(text.utf8))
                return IntentJournal(context: context, document: document, resumed: true)
            } catch {
                throw JobFailure("the run's checkpoint is not an intent journal this build can read: \(error)", retryable: false)
            }
        }
        return IntentJournal(context: context, document: Document(state: initial(), journal: []), resumed: false)
    }

    /// The job's own state, saved with the journal.
    public var state: State { document.state }

    /// Every entry, in the order the intents were recorded.
    public var entries: [Entry] { document.journal }

    /// Entries whose outcome is not known (to reconcile before anything new is sent).
    public var pending: [Entry] { document.journal.filter { $0.outcome == nil } }

    /// The idempotency key of `step` (the same in every generation and attempt of the run).
    public nonisolated func key(for step: String) -> String { context.idempotencyKey(step: step) }

    /// Changes the job's state and saves it (fenced).
    public func update(_ body: @Sendable (inout State) -> Void) async throws {
        body(&document.state)
        try await save()
    }

    /// The recorded outcome of `step`, if it has one.
    public func outcome<Outcome: Decodable>(of step: String, as type: Outcome.Type = Outcome.self) throws -> Outcome? {
        guard let text = document.journal.first(where: { $0.step == step })?.outcome else { return nil }
        return try JSONDecoder().decode(Outcome.self, from: Data(text.utf8))
    }

    /// Does `step`'s side effect at most once across crashes, takeovers and retries.
    ///
    /// - A step with a recorded outcome returns it without calling anything.
    /// - A step with an intent but no outcome calls `reconcile` with its key first; a non-nil
    ///   answer is recorded as the outcome. Nil means it never happened, and `act` runs.
    /// - Otherwise the intent is saved, then `act` runs with the key, then the outcome is saved.
    ///
    /// When `act` throws, the intent stays without an outcome (its result is unknown), so the next
    /// call reconciles first.
    public func perform<Outcome: Codable & Sendable>(
        step: String, target: String, what: String,
        reconcile: @Sendable (_ key: String) async throws -> Outcome?,
        act: @Sendable (_ key: String) async throws -> Outcome
    ) async throws -> Outcome {
        let key = key(for: step)
        if let index = document.journal.firstIndex(where: { $0.step == step }) {
            if let done: Outcome = try outcome(of: step) { return done }
            if let found = try await reconcile(key) {
                try await record(found, at: index)
                return found
            }
        } else {
            document.journal.append(Entry(step: step, key: key, target: target, what: what, outcome: nil, lastError: nil, attempts: 0))
            try await save()
        }
        let index = document.journal.firstIndex(where: { $0.step == step })!
        document.journal[index].attempts += 1
        do {
            let result = try await act(key)
            try await record(result, at: index)
            return result
        } catch {
            document.journal[index].lastError = context.secrets.redact(String(describing: error))
            try? await save()
            throw error
        }
    }

    /// Records the outcome of a pending `step` found by the job's own reconciliation.
    public func resolve<Outcome: Codable & Sendable>(step: String, outcome: Outcome) async throws {
        guard let index = document.journal.firstIndex(where: { $0.step == step }) else {
            throw JobFailure("no intent '\(step)' in the journal", retryable: false)
        }
        try await record(outcome, at: index)
    }

    /// Drops a pending `step` that reconciliation proved never happened, so a later
    /// `perform` of it starts afresh.
    public func forget(step: String) async throws {
        document.journal.removeAll { $0.step == step && $0.outcome == nil }
        try await save()
    }

    private func record<Outcome: Encodable>(_ outcome: Outcome, at index: Int) async throws {
        document.journal[index].outcome = String(decoding: try JSONEncoder().encode(outcome), as: UTF8.self)
        document.journal[index].lastError = nil
        try await save()
    }

    private func save() async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try await context.checkpoints.save(String(decoding: try encoder.encode(document), as: UTF8.self))
    }
}
