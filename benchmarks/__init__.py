"""Benchmarks: scripts that print throughput and latency figures and the ratios that targets are set in."""
