/// Replaced by the foundation benchmarks (next-fire evaluations, 10,000-job validation).
func runFoundationBenchmarks() {}
