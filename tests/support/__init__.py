"""Test support: databases, free ports, process helpers. Doubles of Slack and Teams live in tests/doubles."""
