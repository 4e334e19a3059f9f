/// The status page's Mustache templates (a `<time>` is written out where it is used: a partial
/// per row costs more than the row). `{{name}}` is HTML-escaped by the library; the two
/// triple mustaches, `{{{body}}}` and `{{{jobRows}}}`, take text the library itself rendered.
enum Templates {
    static let all: [String: String] = [
        "layout": layout, "index": index, "jobRow": jobRow, "run": run, "job": job, "notFound": notFound,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="icon" href="data:,">
        {{#refresh}}<meta http-equiv="refresh" content="{{refresh}}">{{/refresh}}
        <title>{{title}} · schedctl</title>
        <link rel="stylesheet" href="/style.css">
        </head>
        <body>
        <header><a href="/">schedctl</a> <span class="muted">{{source}} · times in {{zone}} (UTC on hover)</span></header>
        <main>
        {{{body}}}
        </main>
        <footer class="muted">rendered <time datetime="{{now.utc}}" title="{{now.utc}}">{{now.local}}</time> · <a href="/metrics">metrics</a> · <a href="/healthz">health</a> · <a href="/api/status">json</a></footer>
        </body>
        </html>

        """

    static let index = """
        <h1>Status</h1>
        <section id="instances"><h2>Instances</h2>
        {{^instances}}<p class="warn">no live service instance</p>{{/instances}}
        {{#hasInstances}}<table><thead><tr><th>instance</th><th>pid</th><th>state</th><th>since</th><th>heartbeat</th></tr></thead><tbody>{{/hasInstances}}
        {{#instances}}<tr><td>{{id}}</td><td>{{pid}}</td><td>{{state}}</td><td>{{#started}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/started}}</td><td>{{#heartbeat}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/heartbeat}}</td></tr>
        {{/instances}}
        {{#hasInstances}}</tbody></table>{{/hasInstances}}
        </section>
        <section id="jobs"><h2>Jobs</h2>
        <table><thead><tr><th>job</th><th>state</th><th>rule</th><th>next fire</th><th>last run</th></tr></thead><tbody>
        {{{jobRows}}}</tbody></table></section>
        <section id="runs"><h2>Recent runs</h2>
        {{^runs}}<p class="muted">no runs yet</p>{{/runs}}
        {{#hasRuns}}<table><thead><tr><th>run</th><th>job</th><th>nominal</th><th>state</th><th>took</th><th>note</th></tr></thead><tbody>{{/hasRuns}}
        {{#runs}}<tr><td><a href="/runs/{{id}}">#{{id}}</a></td><td><a href="/jobs/{{jobPath}}">{{job}}</a></td><td>{{#nominal}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/nominal}}</td><td class="state-{{state}}">{{state}}</td><td>{{took}}</td><td>{{note}}</td></tr>
        {{/runs}}
        {{#hasRuns}}</tbody></table>{{/hasRuns}}
        </section>
        {{#hasSessions}}<section id="sessions"><h2>Futures sessions</h2><table><thead><tr><th>job</th><th>run</th><th>state</th><th>trade date</th><th>realized</th><th>open</th><th>lock</th><th>updated</th></tr></thead><tbody>{{/hasSessions}}
        {{#sessions}}<tr><td>{{job}}</td><td><a href="/runs/{{run}}">#{{run}}</a></td><td>{{state}}{{#stopRequested}} (stop requested){{/stopRequested}}</td><td>{{tradeDate}}</td><td>{{realized}}</td><td>{{open}}</td><td>{{#locked}}<span class="warn">locked</span> {{lockReason}}{{/locked}}{{^locked}}no{{/locked}}</td><td>{{#updated}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/updated}}</td></tr>
        {{/sessions}}
        {{#hasSessions}}</tbody></table></section>{{/hasSessions}}
        {{#hasTokens}}<section id="tokens"><h2>Broker tokens</h2><table><thead><tr><th>broker</th><th>access token expires</th></tr></thead><tbody>{{/hasTokens}}
        {{#tokens}}<tr><td>{{broker}}</td><td>{{#expires}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/expires}}{{^expires}}<span class="muted">none stored</span>{{/expires}}</td></tr>
        {{/tokens}}
        {{#hasTokens}}</tbody></table>{{#tokenNote}}<p class="muted">{{tokenNote}}</p>{{/tokenNote}}</section>{{/hasTokens}}
        <section id="alerts"><h2>Recent alert deliveries</h2>
        {{^deliveries}}<p class="muted">none</p>{{/deliveries}}
        {{#hasDeliveries}}<table><thead><tr><th>at</th><th>notifier</th><th>alert</th><th>state</th><th>run</th><th>detail</th></tr></thead><tbody>{{/hasDeliveries}}
        {{#deliveries}}<tr><td>{{#at}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/at}}</td><td>{{notifier}}</td><td>{{alert}}</td><td class="state-{{state}}">{{state}}</td><td>{{#run}}<a href="/runs/{{run}}">#{{run}}</a>{{/run}}</td><td>{{detail}}</td></tr>
        {{/deliveries}}
        {{#hasDeliveries}}</tbody></table>{{/hasDeliveries}}
        </section>

        """

    /// One job's row on `/`, rendered on its own so that an unchanged row is reused (see
    /// `StatusPages.JobRows`); `index` takes the rows, rendered here, as `{{{jobRows}}}`.
    static let jobRow = """
        <tr><td><a href="/jobs/{{path}}">{{name}}</a> <span class="muted">{{type}}</span></td><td class="state-{{state}}">{{state}}{{activeNote}}</td><td>{{rule}}</td><td>{{#next}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/next}}{{#pausedSince}}paused since <time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/pausedSince}}{{nextNote}}</td>
        <td>{{#last}}<a href="/runs/{{id}}">#{{id}}</a> <span class="state-{{state}}">{{state}}</span> {{summary}}{{/last}}{{^last}}<span class="muted">none yet</span>{{/last}}</td></tr>

        """

    static let run = """
        <h1>Run #{{id}} <span class="state-{{state}}">{{state}}</span></h1>
        <dl>
        <dt>job</dt><dd><a href="/jobs/{{jobPath}}">{{job}}</a> ({{trigger}})</dd>
        <dt>nominal</dt><dd>{{#nominal}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/nominal}}</dd>
        <dt>attempts</dt><dd>{{attempt}} of {{maxAttempts}} · generation {{generation}} · takeovers {{takeovers}}</dd>
        {{#started}}<dt>started</dt><dd><time datetime="{{utc}}" title="{{utc}}">{{local}}</time></dd>{{/started}}
        {{#finished}}<dt>finished</dt><dd><time datetime="{{utc}}" title="{{utc}}">{{local}}</time></dd>{{/finished}}
        {{#summary}}<dt>summary</dt><dd>{{summary}}</dd>{{/summary}}
        {{#error}}<dt>error</dt><dd class="warn">{{error}}</dd>{{/error}}
        {{#reason}}<dt>reason</dt><dd>{{reason}}</dd>{{/reason}}
        {{#lease}}<dt>lease</dt><dd>{{owner}} generation {{generation}} until {{#expires}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/expires}}</dd>{{/lease}}
        </dl>
        <section id="events"><h2>Events</h2>
        {{^events}}<p class="muted">none</p>{{/events}}
        {{#hasEvents}}<table><thead><tr><th>at</th><th>kind</th><th>message</th><th>instance</th></tr></thead><tbody>{{/hasEvents}}
        {{#events}}<tr><td>{{#at}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/at}}</td><td>{{kind}}</td><td>{{message}}</td><td class="muted">{{instance}}</td></tr>
        {{/events}}
        {{#hasEvents}}</tbody></table>{{/hasEvents}}
        </section>
        {{#rebalance}}<section id="rebalance"><h2>Rebalance</h2><p>{{line}}</p>
        <h3>Weights</h3><table><thead><tr><th>symbol</th><th>before</th><th>target</th><th>after</th></tr></thead><tbody>
        {{#holdings}}<tr><td>{{symbol}}</td><td>{{before}}</td><td>{{target}}</td><td>{{after}}</td></tr>
        {{/holdings}}</tbody></table>
        <h3>Orders</h3>{{^orders}}<p class="muted">none</p>{{/orders}}
        {{#hasOrders}}<table><thead><tr><th>symbol</th><th>side</th><th>quantity</th><th>filled</th><th>average</th><th>state</th><th>order id</th></tr></thead><tbody>{{/hasOrders}}
        {{#orders}}<tr><td>{{symbol}}</td><td>{{side}}</td><td>{{quantity}}</td><td>{{filled}}</td><td>{{average}}</td><td>{{state}}</td><td>{{orderID}}</td></tr>
        {{/orders}}
        {{#hasOrders}}</tbody></table>{{/hasOrders}}
        </section>{{/rebalance}}
        {{#report}}<section id="report"><h2>Session report</h2><pre>{{report}}</pre></section>{{/report}}
        {{#checkpoint}}<section id="checkpoint"><h2>Checkpoint</h2><pre>{{checkpoint}}</pre></section>{{/checkpoint}}
        {{#output}}<section id="output"><h2>Output (tail)</h2><pre>{{output}}</pre></section>{{/output}}

        """

    static let job = """
        <h1>{{name}} <span class="muted">{{type}}</span> <span class="state-{{state}}">{{state}}</span></h1>
        <dl><dt>rule</dt><dd>{{rule}}</dd>{{#description}}<dt>description</dt><dd>{{description}}</dd>{{/description}}</dl>
        <section id="next"><h2>Next fires</h2>
        {{^fires}}<p class="muted">{{nextNote}}</p>{{/fires}}
        {{#hasFires}}<ol>{{/hasFires}}{{#fires}}<li>{{#at}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/at}} <span class="muted">{{why}}</span></li>{{/fires}}{{#hasFires}}</ol>{{/hasFires}}
        </section>
        <section id="history"><h2>History</h2>
        {{^runs}}<p class="muted">no runs yet</p>{{/runs}}
        {{#hasRuns}}<table><thead><tr><th>run</th><th>nominal</th><th>state</th><th>try</th><th>took</th><th>note</th></tr></thead><tbody>{{/hasRuns}}
        {{#runs}}<tr><td><a href="/runs/{{id}}">#{{id}}</a></td><td>{{#nominal}}<time datetime="{{utc}}" title="{{utc}}">{{local}}</time>{{/nominal}}</td><td class="state-{{state}}">{{state}}</td><td>{{attempt}}/{{maxAttempts}}</td><td>{{took}}</td><td>{{note}}</td></tr>
        {{/runs}}
        {{#hasRuns}}</tbody></table>{{/hasRuns}}
        </section>

        """

    static let notFound = """
        <h1>Not found</h1>
        <p>{{message}}</p>
        <p><a href="/">Back to the status page</a></p>

        """

    /// The one stylesheet (`/style.css`): system fonts, readable on a phone, no assets.
    static let stylesheet = """
        :root { color-scheme: light dark; --muted: #777; --warn: #c0392b; --ok: #2e7d32; }
        body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; padding: 0 1rem 2rem; }
        header { padding: .75rem 0; border-bottom: 1px solid #8884; }
        header a { font-weight: 600; text-decoration: none; }
        main { max-width: 72rem; }
        h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; } h3 { font-size: 1rem; }
        table { border-collapse: collapse; width: 100%; display: block; overflow-x: auto; }
        th, td { text-align: left; padding: .3rem .6rem .3rem 0; border-bottom: 1px solid #8883; vertical-align: top; }
        th { font-weight: 600; white-space: nowrap; }
        time { white-space: nowrap; }
        pre { overflow-x: auto; background: #8881; padding: .6rem; }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
        dt { color: var(--muted); } dd { margin: 0; }
        .muted, footer { color: var(--muted); font-size: .9em; }
        footer { margin-top: 2rem; }
        .warn, .state-failed, .state-abandoned, .state-paused { color: var(--warn); }
        .state-succeeded, .state-delivered, .state-active { color: var(--ok); }

        """
}
