"""`make bench`: the quality and speed bars of docs/benchmarks.md, measured on this machine."""
