"""The small error hierarchy shared by every entry point.

Exception text is for operators and logs; users only ever see a localised message chosen by the entry point.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, TypeVar

Problem = TypeVar("Problem", bound=StrEnum)


class VipbotError(Exception):
    """Base of every error vipbot raises on purpose."""


class RefusedError(VipbotError, Generic[Problem]):
    """An action a use case refuses as asked, shared by the CLI and the console: the message is one line for the
    CLI, `problem` the code the console maps to a locale key (each feature has its own enum of problems)."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


class ConfigError(VipbotError):
    """A setting is missing or wrong. Carries the variable name so the message can point at it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class ContentError(VipbotError):
    """The content library is broken; `problems` lists every problem found, each with file and line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the content library")
        self.problems = problems


class NotFoundError(VipbotError):
    """A named thing (organisation, group, schedule...) does not exist."""


class ConflictError(VipbotError):
    """The change would break a uniqueness or consistency rule."""


class PlatformError(VipbotError):
    """Slack, Teams or the mail server could not be reached or refused a request: one line for the operator."""


class DatabaseNotReadyError(VipbotError):
    """The database schema is behind the code: migrations have to run first."""


class MigrationError(VipbotError):
    """A migration cannot be written as asked (`vipbot db revision`); the message says what to pass instead."""
