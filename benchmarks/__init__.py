"""compot benchmarks (run as modules, e.g. python -m benchmarks.paper_tables)."""
