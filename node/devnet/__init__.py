"""Local networks on one machine: node processes on loopback, sample traffic, the demo.

For the demo, the benchmarks and the real-process tests; nothing here runs
in a production node.
"""
