/// The commented starter `jobs.yaml` that `schedctl init` writes (the repository's root
/// `jobs.yaml` is the same text; a test keeps them equal).
public enum StarterConfig {
    /// The file's text.
    public static let text = #"""
        # schedctl starter configuration: runs with no credentials (embedded SQLite, the paper broker).
        # Reference: docs/configuration.md. Check it with: schedctl validate
        timezone: America/New_York            # default zone of wall-clock schedules
        database: state/schedctl.sqlite       # relative to this file; created with mode 0600

        brokers:
          paper: { type: paper, cash: 100000 }   # the simulated broker: no credentials needed

        strategies:
          sixty-forty: { type: weights, weights: { VTI: 0.6, BND: 0.4 } }

        jobs:
          rebalance-paper:
            description: The main job - rebalance the paper account to 60/40 five minutes after the NYSE open.
            type: rebalance
            broker: paper
            strategy: sixty-forty
            schedule: { market: XNYS, at: open, offset: 5m }
            cash_buffer: 1%                   # kept as cash
            min_trade: 100                    # skip trades worth less
            drift: 0.5%                       # and weights already this close
            poll_every: 2s
            replan_after: 10s
            deadline: 5m
            allow_outside_session: true       # paper only: 'schedctl run rebalance-paper' works at any hour

          heartbeat:
            description: Proves the service is alive; records a run every 10 seconds.
            type: noop
            schedule: { every: 10s }
            misfire: { policy: latest, grace: 30s }

          market-open:
            description: Five minutes after the NYSE opens, on trading days.
            type: exec
            command: ["/bin/echo", "NYSE opened five minutes ago"]
            schedule: { market: XNYS, at: open, offset: 5m }
            misfire: { policy: skip, grace: 10m }
            timeout: 1m

          before-globex-close:
            description: Ten minutes before the CME Globex equity session closes.
            type: exec
            command: ["/bin/sh", "-c", "date -u +'Globex closes in 10 minutes (%H:%MZ)'"]
            schedule: { market: CME, at: close, offset: -10m }
            overlap: skip
            timeout: 1m

          month-start:
            description: First trading day of each month, at 09:35 New York time.
            type: noop
            schedule: { market: XNYS, at: open, offset: 5m, days: first-trading-day-of-month }

          nightly-check:
            description: Weekdays at 17:00 local time, with retries.
            type: exec
            command: ["/bin/sh", "-c", "echo nightly check ok"]
            schedule: { cron: "0 17 * * mon-fri" }
            retry: { attempts: 3, backoff: 30s }
            timeout: 5m
        """#
}
