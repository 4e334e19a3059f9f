/// `jobs`: each job's type, options and policies (misfire, overlap, retry, timeout).
extension ConfigReader {
    func readJob(
        _ name: String, _ keyNode: ConfigNode, _ node: ConfigNode, timezone: ZoneRules, calendars: [Market: any TradingCalendar], references: References
    ) -> JobSpec? {
        let path = join("jobs", name)
        let problemsBefore = diagnostics.count
        validateName(name, keyNode, path)
        guard let fields = mapping(node, path) else { return nil }
        let field = { (key: String) in self.lookup(fields, key) }
        guard let typeField = field("type") else {
            error(keyNode, path, "missing 'type'; one of: \(catalog.jobKinds.keys.sorted().joined(separator: ", "))")
            return nil
        }
        guard let kind = string(typeField.value, join(path, "type")) else { return nil }
        guard let kindSpecs = catalog.jobKinds[kind] else {
            error(typeField.value, join(path, "type"), "unknown job type '\(kind)'\(Suggest.hint(for: kind, in: Array(catalog.jobKinds.keys)))")
            return nil
        }
        let (kindKeys, allowedKeys) = keys(ofKind: kind, kindSpecs)
        // One pass: the job's own keys (checked here) and the kind's options.
        var jobFields: [Field] = []
        var optionFields: [Field] = []
        for index in fields.indices {
            if kindKeys.contains(fields[index].key) { optionFields.append(fields[index]) } else { jobFields.append(fields[index]) }
        }
        checkKeys(jobFields, allowed: allowedKeys, path)
        let options = readOptions(optionFields, specs: kindSpecs, path: path, parent: keyNode, references: references)
        var problems: [OptionProblem] = []
        if let check = catalog.jobChecks[kind] { problems = check(options, brokerSpecs, strategySpecs) }
        // Options that are their own check are parsed here, once, and kept (below) if the job is valid.
        var checked: (any CheckedJobOptions)?
        if let type = catalog.jobOptions[kind] as? any CheckedJobOptions.Type {
            let parsed = type.init(options: options, problems: &problems)
            problems += parsed.problems(brokers: brokerSpecs, strategies: strategySpecs)
            checked = parsed
        }
        for problem in problems {
            error(optionNode(at: problem.key, in: fields) ?? keyNode, problem.key.isEmpty ? path : join(path, problem.key), problem.message)
        }

        var schedule: Schedule?
        if let scheduleField = field("schedule") {
            schedule = readSchedule(scheduleField.value, join(path, "schedule"), timezone: timezone, calendars: calendars)
        } else {
            error(keyNode, path, "missing 'schedule'; e.g. schedule: { cron: \"0 17 * * 1-5\" } or { market: XNYS, at: open, offset: 5m }")
        }
        if schedule?.strategyRule != nil, let scheduleField = field("schedule") {
            checkStrategyDays(scheduleField.value, join(path, "schedule.days"), options: options, kindSpecs: kindSpecs, references: references)
        }
        var job = JobSpec(name: name, kind: kind, schedule: schedule ?? Schedule(.once(Instant(seconds: 0))), options: options, line: keyNode.mark?.line ?? 0)
        if let f = field("misfire") { job.misfire = readMisfire(f.value, join(path, "misfire")) ?? job.misfire }
        if let f = field("overlap"), let text = string(f.value, join(path, "overlap")) {
            if let policy = OverlapPolicy(rawValue: text) {
                job.overlap = policy
            } else {
                error(f.value, join(path, "overlap"), "unknown overlap policy '\(text)'\(Suggest.hint(for: text, in: OverlapPolicy.allCases.map(\.rawValue)))")
            }
        }
        if let f = field("retry") { job.retry = readRetry(f.value, join(path, "retry")) ?? job.retry }
        if let f = field("timeout") { job.timeout = duration(f.value, join(path, "timeout")) }
        if let f = field("paused") { job.paused = bool(f.value, join(path, "paused")) ?? false }
        if let f = field("description") { job.description = string(f.value, join(path, "description")) }
        // A kind that declares its own `notify` option keeps it; otherwise `notify:` is the alert rule.
        if !kindKeys.contains("notify"), let f = field("notify") { job.notify = readNotify(f.value, join(path, "notify"), references: references) }
        // Options are parsed once, here, into the kind's type; a job with problems is not parsed.
        if diagnostics.count == problemsBefore, let checked {
            job.typedOptions = checked
        } else if diagnostics.count == problemsBefore, let type = catalog.jobOptions[kind] {
            do { job.typedOptions = try type.init(job: job) } catch { self.error(keyNode, path, "\(error)") }
        }
        return schedule == nil ? nil : job
    }

    /// The value of the dotted option key `key` (`risk.daily_loss_limit`) among `fields`: the
    /// deepest mapping entry the YAML has on that path (the top key's value when it goes no deeper).
    func optionNode(at key: String, in fields: [Field]) -> ConfigNode? {
        let parts = key.split(separator: ".").map(String.init)
        guard let first = parts.first, var found = lookup(fields, first)?.value else { return nil }
        for part in parts.dropFirst() {
            guard case .mapping(let entries) = found, let next = entries.first(where: { $0.key.scalar?.string == part })?.value else { break }
            found = next
        }
        return found
    }

    /// `days: strategy` needs the job's `strategy:` to name a strategy whose type announces trade
    /// dates (``Capability/tradeDates``, e.g. `pennyvault`); other types have none.
    func checkStrategyDays(_ scheduleNode: ConfigNode, _ path: String, options: [String: ConfigValue], kindSpecs: [OptionSpec], references: References) {
        var daysNode = scheduleNode
        if case .mapping(let mapping) = scheduleNode, let entry = mapping.first(where: { $0.key.scalar?.string == "days" }) { daysNode = entry.value }
        guard kindSpecs.contains(where: { $0.kind == .strategyReference }) else {
            error(
                daysNode, path,
                "'days: strategy' needs a job with a 'strategy:' (such as type: rebalance); this job type has none — use a day rule such as every-trading-day or first-trading-day-of-month"
            )
            return
        }
        let announcing = catalog.componentCapabilities["strategies", default: [:]].filter { $0.value.contains(.tradeDates) }.keys.sorted()
        let types = announcing.isEmpty ? "a strategy that announces trade dates" : "a \(announcing.joined(separator: " or ")) strategy"
        guard let name = options.first(where: { key, _ in kindSpecs.contains { $0.name == key && $0.kind == .strategyReference } })?.value.stringValue else {
            error(daysNode, path, "'days: strategy' needs the job's 'strategy:' set to \(types); add 'strategy: NAME', or use another day rule")
            return
        }
        if let type = references.strategyTypes[name], !announcing.contains(type) {
            error(
                daysNode, path,
                "'days: strategy' follows the next trade date its strategy announces, but strategy '\(name)' is type \(type), which announces none; "
                    + "use a day rule such as first-trading-day-of-month, or \(types)")
        }
    }

    func readMisfire(_ node: ConfigNode, _ path: String) -> MisfirePolicy? {
        var policy = MisfirePolicy()
        let modeNames = MisfirePolicy.Mode.allCases.map(\.rawValue)
        func mode(_ node: ConfigNode, _ path: String) -> MisfirePolicy.Mode? {
            guard let text = string(node, path) else { return nil }
            guard let mode = MisfirePolicy.Mode(rawValue: text) else {
                error(node, path, "unknown misfire policy '\(text)'\(Suggest.hint(for: text, in: modeNames))")
                return nil
            }
            return mode
        }
        if case .scalar = node { return mode(node, path).map { MisfirePolicy(mode: $0) } }
        guard let fields = mapping(node, path) else { return nil }
        checkKeys(fields, allowed: ["policy", "grace"], path)
        for field in fields {
            if field.key == "policy", let m = mode(field.value, join(path, "policy")) { policy.mode = m }
            if field.key == "grace", let g = duration(field.value, join(path, "grace")) { policy.grace = g }
        }
        return policy
    }

    func readRetry(_ node: ConfigNode, _ path: String) -> RetryPolicy? {
        var policy = RetryPolicy()
        if case .scalar = node {
            return integer(node, path, 1...100).map { RetryPolicy(attempts: $0) }
        }
        guard let fields = mapping(node, path) else { return nil }
        checkKeys(fields, allowed: ["attempts", "backoff", "max_backoff", "jitter"], path)
        for field in fields {
            let p = join(path, field.key)
            switch field.key {
            case "attempts": if let n = integer(field.value, p, 1...100) { policy.attempts = n }
            case "backoff": if let d = duration(field.value, p) { policy.backoff = d }
            case "max_backoff": if let d = duration(field.value, p) { policy.maxBackoff = d }
            case "jitter": if let b = bool(field.value, p) { policy.jitter = b }
            default: break
            }
        }
        if policy.maxBackoff < policy.backoff {
            error(
                node, path,
                "max_backoff (\(DurationText.format(policy.maxBackoff))) is shorter than backoff (\(DurationText.format(policy.backoff))); raise max_backoff")
        }
        return policy
    }
}
