"""Benchmarks that compare the verifier with its floor and its peers in one run.

``ecert bench`` and ``benchmarks/compare.py`` run :func:`compare.main`:
interleaved rounds of every contender on the same inputs, ratios against the
targets of docs/performance.md, the machine, and a JSON report.  The peer
libraries (python-cwt, pyseto, PyJWT) are optional and only imported here.
"""
