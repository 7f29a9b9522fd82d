"""Test doubles: loopback servers that speak the platforms' protocols."""
