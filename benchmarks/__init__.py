"""The performance benchmark: a synthetic Prisma project (generate.py) and the measurements (run.py).

`make bench` (or `python -m benchmarks.run`) generates the project once under benchmarks/.work/ and
compares photon-bundle with `zip -r -X -6` on the same file set. A benchmark is a report: nothing in the
test suite asserts a time.
"""
