runFoundationBenchmarks()
