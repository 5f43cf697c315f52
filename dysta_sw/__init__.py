"""Dysta: sparsity-aware scheduling of sparse multi-DNN workloads (software side).

``dysta_sw`` holds the golden software scheduler, the scheduling engine, every baseline policy,
the benchmark, its metrics and reports, and the ``dysta`` command line.
"""

__version__ = "0.1.0"
