import Synchronization

/// The strategy's intents waiting for the session, beside its input stream: the stream carries
/// one `intentsReady` signal at a time, and each turn handles one intent and signals again while
/// more wait, so inputs queued meanwhile (ticks, quotes, events) go first.
final class IntentLane: Sendable {
    private struct Waiting {
        var lines: [(line: String, generation: Int)] = []
        var head = 0
        var signalled = false
    }
    private let waiting = Mutex(Waiting())

    /// Queues an intent; true when the session must be signalled (no signal is outstanding).
    func push(_ line: String, generation: Int) -> Bool {
        waiting.withLock { w in
            w.lines.append((line, generation))
            if w.signalled { return false }
            w.signalled = true
            return true
        }
    }

    /// The next intent, and whether more wait (the caller then signals again).
    func pop() -> (line: String, generation: Int, more: Bool)? {
        waiting.withLock { w in
            guard w.head < w.lines.count else {
                w.signalled = false
                return nil
            }
            let next = w.lines[w.head]
            w.head += 1
            if w.head >= 256, w.head * 2 >= w.lines.count {
                w.lines.removeFirst(w.head)
                w.head = 0
            }
            let more = w.head < w.lines.count
            if !more { w.signalled = false }
            return (next.line, next.generation, more)
        }
    }
}
