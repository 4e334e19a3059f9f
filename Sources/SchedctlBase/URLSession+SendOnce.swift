public import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    public import FoundationNetworking
#endif

extension URLSession {
    /// `data(for:)` without FoundationNetworking's async wrapper, which can deadlock on Linux when
    /// the awaiting task is cancelled while the answer arrives: two threads of the concurrency
    /// pool were seen blocked in `DispatchQueue.sync` (one cancelling, one starting a request)
    /// against a third finishing the task, which froze every task of the process on a 2-core
    /// machine. Here a cancelled caller gets `CancellationError` at once and the request is never
    /// `cancel()`ed: it finishes or times out on its own, and its answer is dropped. A write
    /// whose answer is dropped has an unknown outcome, which the caller's journal reconciles.
    public func sendOnce(_ request: URLRequest) async throws -> (Data, URLResponse) {
        let waiter = ResponseWaiter()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: ResponseWaiter.Continuation) in
                guard waiter.wait(continuation) else { return }
                dataTask(with: request) { data, response, error in
                    if let data, let response {
                        waiter.finish(.success((data, response)))
                    } else {
                        waiter.finish(.failure(error ?? URLError(.badServerResponse)))
                    }
                }.resume()
            }
        } onCancel: {
            waiter.finish(.failure(CancellationError()))
        }
    }
}

/// The one continuation of a ``URLSession/sendOnce(_:)`` call, resumed by the first of its
/// answer and its cancellation.
private final class ResponseWaiter: Sendable {
    typealias Continuation = CheckedContinuation<(Data, URLResponse), any Error>
    private let state = Mutex<(continuation: Continuation?, outcome: Result<(Data, URLResponse), any Error>?)>((nil, nil))

    /// Keeps `continuation`; false (having resumed it) when the call was cancelled first.
    func wait(_ continuation: Continuation) -> Bool {
        let early = state.withLock { s -> Result<(Data, URLResponse), any Error>? in
            if let outcome = s.outcome { return outcome }
            s.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
        return early == nil
    }

    /// Resumes the caller with `outcome`, unless it was resumed already.
    func finish(_ outcome: Result<(Data, URLResponse), any Error>) {
        let continuation = state.withLock { s -> Continuation? in
            guard s.outcome == nil else { return nil }
            s.outcome = outcome
            defer { s.continuation = nil }
            return s.continuation
        }
        continuation?.resume(with: outcome)
    }
}
