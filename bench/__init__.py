"""payrelay's benchmark harness: `python -m bench` (see docs/performance.md).

Benchmarks are not tests: nothing here asserts a timing. Each scenario starts its own services
against a fresh database, drives them with a load generator and records what it measured.
"""
