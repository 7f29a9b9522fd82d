"""Loads and validates the content library (content/): columns, reminders, pulse sets, sociale kaart, locales."""

from bot.catalog.loader import ContentLibrary, check_content, load_content

__all__ = ["ContentLibrary", "check_content", "load_content"]
