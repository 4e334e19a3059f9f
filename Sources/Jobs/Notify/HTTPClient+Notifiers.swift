import SchedctlBase

extension HTTPClient {
    /// The client every notifier shares (Twilio, webhooks): one session (a session per request
    /// leaks its handles), redirects never followed (a request's credentials and signature go only
    /// where they were configured to; the 3xx is returned), and a request gives up after 60 s in
    /// all (alerts set a shorter limit of their own).
    static let notifiers = HTTPClient(timeout: 60, resourceTimeout: 60, writes: .pooled)
}
