"""Channel, staff and terminal risk (渠道 / 工号 / 终端风险): how many of the SIMs a dealer channel,
a staff ID (工号) or a terminal registered were later alerted, clued by the police or confirmed
fraud.

Card-trafficking gangs open their cards through a few colluding channels and staff IDs, so the
cards those staff register go bad far more often than the province's others. A raw share ranks
badly: one card of one, alerted, is 100% and would top the list over a staff ID with 40 of 80.
The ranking therefore orders by the **Wilson score lower bound** of the share (95%): the share
we are confident the staff ID's cards reach at least, given how few there are. It shrinks small
counts toward zero and leaves large ones near their raw share, so a list sorted by it puts the
staff IDs we are *sure* are bad first — what an analyst about to suspend one needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from telshield.domain.errors import InvalidInput

Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


class RiskBy(StrEnum):
    """What registrations are grouped by."""

    CHANNEL = "channel"
    STAFF = "staff"
    TERMINAL = "terminal"

    @property
    def column(self) -> str:
        """The subscribers feed's column for it."""
        return f"{self.value}_id"

    @classmethod
    def parse(cls, value: str) -> RiskBy:
        """``value`` as a RiskBy; InvalidInput naming the choices otherwise."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise InvalidInput(f"by {value!r}: use one of {[b.value for b in cls]}") from None


def wilson_lower(k: int, n: int, z: float = Z95) -> float:
    """The Wilson score interval's lower bound for ``k`` successes in ``n`` trials (0 when
    n is 0): the share we are ~97.5% sure the true one is above."""
    if n <= 0:
        return 0.0
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


@dataclass(frozen=True)
class FraudNumbers:
    """Numbers the platform later found bad, by how: alerted (any tier), clued by the police
    (a clue or a police-ordered block), confirmed fraud (a confirmed disposal)."""

    alerted: frozenset[str] = frozenset()
    clued: frozenset[str] = frozenset()
    confirmed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RiskRow:
    """One channel's, staff ID's or terminal's registrations and how many went bad."""

    key: str
    registrations: int
    alerted: int
    clued: int
    confirmed: int
    bad: int  # alerted, clued or confirmed (each card once)

    @property
    def share(self) -> float:
        """The raw share of its registrations that went bad."""
        return self.bad / self.registrations if self.registrations else 0.0

    @property
    def lower(self) -> float:
        """The share's Wilson 95% lower bound: what the ranking orders by."""
        return wilson_lower(self.bad, self.registrations)

    def sentence(self, what: str) -> str:
        """The counts and share in words, for a reason or a report."""
        return (f"{self.bad} of {self.registrations} registrations by this {what} were later "
                f"alerted, clued or confirmed fraud ({self.share:.0%}; at least {self.lower:.0%} "
                f"at 95% confidence; {self.alerted} alerted, {self.clued} clued, "
                f"{self.confirmed} confirmed)")


def rank(rows: Iterable[RiskRow], *, min_count: int) -> list[RiskRow]:
    """Rows with at least ``min_count`` registrations, riskiest first: by the Wilson lower
    bound, then the raw share, then the count (more evidence first), then the key."""
    if min_count < 1:
        raise InvalidInput("min_count must be at least 1")
    kept = [r for r in rows if r.registrations >= min_count]
    return sorted(kept, key=lambda r: (-r.lower, -r.share, -r.registrations, r.key))


@dataclass(frozen=True)
class RiskTable:
    """Every channel's, staff ID's and terminal's row (unfiltered), as the check looks them up."""

    rows: dict[RiskBy, dict[str, RiskRow]]

    def get(self, by: RiskBy, key: str) -> RiskRow | None:
        """The row of ``key`` (None when it registered nothing we know)."""
        return self.rows.get(by, {}).get(key)
