"""Triggers, materialiser and delivery workers for scheduled outreach."""
