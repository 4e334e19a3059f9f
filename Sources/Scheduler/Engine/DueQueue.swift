/// The plan's jobs by position and by name, shared with store operations without copying specs.
public struct JobTable: Sendable {
    /// The jobs in file order.
    public let jobs: [JobSpec]
    private let index: [String: Int]

    /// A table of `jobs` (the first of duplicate names wins).
    public init(_ jobs: [JobSpec]) {
        self.jobs = jobs
        var index: [String: Int] = [:]
        index.reserveCapacity(jobs.count)
        for (position, job) in jobs.enumerated() where index[job.name] == nil { index[job.name] = position }
        self.index = index
    }

    /// The job called `name`.
    public subscript(name: String) -> JobSpec? { index[name].map { jobs[$0] } }

    /// The position of the job called `name`.
    public func position(of name: String) -> Int? { index[name] }
}

/// A min-heap of (time, job position): the next time each job needs attention (seconds since
/// the epoch, fractional: claims ahead fall between the whole-second instants most runs start
/// at), so a pass touches only the jobs that are due, however many jobs the plan has.
struct DueQueue {
    private var heap: [(at: Double, job: Int32)] = []

    /// The earliest time in the queue.
    var earliest: Double? { heap.first?.at }

    mutating func removeAll() { heap.removeAll(keepingCapacity: true) }

    mutating func push(_ at: Double, _ job: Int) {
        heap.append((at, Int32(job)))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].at < heap[parent].at else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns every job due at or before `limit`.
    mutating func popDue(upTo limit: Double) -> [Int] {
        var due: [Int] = []
        while let top = heap.first, top.at <= limit {
            due.append(Int(top.job))
            let last = heap.removeLast()
            guard !heap.isEmpty else { break }
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { break }
                var smallest = left
                if left + 1 < heap.count, heap[left + 1].at < heap[left].at { smallest = left + 1 }
                guard heap[smallest].at < heap[parent].at else { break }
                heap.swapAt(smallest, parent)
                parent = smallest
            }
        }
        return due
    }
}
