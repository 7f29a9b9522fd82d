"""Fixtures of the Teams adapter tests."""

from tests.doubles.bf_connector import bf_connector
from tests.support.browser import browser, page

__all__ = ["bf_connector", "browser", "page"]
