"""Fixtures of the Teams adapter tests."""

from tests.doubles.bf_connector import bf_connector

__all__ = ["bf_connector"]
