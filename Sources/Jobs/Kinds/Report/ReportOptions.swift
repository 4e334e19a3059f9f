public import Scheduler

/// The options of one `type: report` job, parsed once at load.
public struct ReportOptions: JobOptions, Hashable {
    /// The notifiers that receive the report (`to`).
    public var to: [String]
    /// What it shows (`sections`, default all).
    public var sections: [ReportData.Section]
    /// The brokers whose accounts are reported (`brokers`); nil: every broker of the running plan.
    public var brokers: [String]?
    /// The title and e-mail subject (`title`, default `schedctl report: JOB`).
    public var title: String

    /// Reads `job`'s options.
    public init(job: JobSpec) throws {
        let o = job.options
        to = o["to"]?.listValue?.compactMap(\.stringValue) ?? []
        sections = o["sections"]?.listValue?.compactMap { $0.stringValue.flatMap(ReportData.Section.init(rawValue:)) } ?? ReportData.Section.allCases
        brokers = o["brokers"]?.listValue?.compactMap(\.stringValue)
        title = o["title"]?.stringValue ?? "schedctl report: \(job.name)"
    }
}
