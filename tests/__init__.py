"""The test suite (a package, so tests.support imports the same from tests and bench/)."""
