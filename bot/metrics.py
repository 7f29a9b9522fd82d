"""The service's Prometheus registry (served by `bot/web/observability.py` on its own listener)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics


@dataclass(frozen=True)
class Metrics:
    """The service's own registry: no global state, so several apps (and tests) can live in one process."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    password_checks: Counter  # console sign-in: how many password hashes were computed (lockout at work)

    @classmethod
    def create(cls) -> Metrics:
        # `_created` series hold the time a labelled series first appeared: the moment of a first action.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "vipbot_http_requests",
                "HTTP requests handled",
                ["route", "method", "status"],
                registry=registry,
            ),
            latency=Histogram(
                "vipbot_http_request_seconds",
                "HTTP request latency",
                ["route"],
                registry=registry,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            ),
            password_checks=Counter(
                "vipbot_console_password_checks",
                "Password hashes computed at console sign-in (attempts refused by the lockout compute none)",
                registry=registry,
            ),
        )
