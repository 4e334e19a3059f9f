extension Duration {
    /// The duration in seconds, fractions included.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// `s` seconds, clamped to 0…1 day (a non-finite or negative value is zero), so no input traps.
    public static func secondsDouble(_ s: Double) -> Duration {
        guard s.isFinite, s > 0 else { return .zero }
        return .milliseconds(Int64((min(s, 86_400) * 1000).rounded()))
    }
}
