"""Locust scenarios against a freshly seeded, served marketplace, and the runner that checks the database's
invariants afterwards: `python -m loadtest flash-sale|browse --help` (see docs/loadtest.md)."""
