"""Test support code shared by the tests and bench/: event histories, fixture builders, crash loops, golden figures."""
