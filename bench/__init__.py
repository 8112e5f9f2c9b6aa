"""Benchmarks: ``python -m bench.<name>``, side-by-side ratios in one run, JSON records.

Each benchmark times the jaxrank code path against its natural alternative *and* against the
machine's limit (memory bandwidth measured in the same run), prints ratios, and writes
``bench/results/<name>.json``. Benchmarks never run inside the test suite's timed tests; the
tests only check that a tiny run produces a well-formed record. See ``bench/README.md``.
"""
