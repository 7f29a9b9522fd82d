"""The noise behind every published pulse number: OpenDP's discrete Laplace mechanism on integer vectors.

OpenDP samples from its own cryptographically secure source and is safe against floating-point attacks on the
noise (it never adds a float to a count). Each call builds the measurement for the asked scale and checks, with
OpenDP's own privacy map, that a change of `sensitivity` in L1 costs at most `epsilon` before drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import opendp.prelude as dp


class OpenDpNoise:
    """The `NoiseSource` of the service."""

    def __init__(self) -> None:
        # Built at the first draw: OpenDP (and numpy with it) loads when a number is published, not at every
        # start of the service.
        self._space: tuple[dp.Domain, dp.Metric] | None = None

    def _input_space(self) -> tuple[dp.Domain, dp.Metric]:
        import opendp.prelude as dp

        if self._space is None:
            # make_laplace on integer vectors is marked "contrib" in OpenDP (a feature flag, not a different
            # sampler)
            dp.enable_features("contrib")
            self._space = (dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int))
        return self._space

    def noisy_counts(self, counts: Sequence[int], sensitivity: int, epsilon: float) -> tuple[int, ...]:
        import opendp.prelude as dp

        if epsilon <= 0 or sensitivity <= 0:
            raise ValueError("noise needs a positive epsilon and sensitivity")
        measurement = dp.m.make_laplace(*self._input_space(), scale=float(sensitivity) / epsilon)
        if measurement.map(sensitivity) > epsilon * (1 + 1e-9):  # type: ignore[no-untyped-call]
            raise ValueError("the mechanism would cost more than its epsilon")
        return tuple(int(n) for n in measurement([int(c) for c in counts]))
