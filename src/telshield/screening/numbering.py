"""What a presented number is (mobile, fixed, service, international, unallocated, malformed) and
whether it is one of ours, indexed for screening: for one number as text, or many as int64 arrays.

The spoof rules need exactly this and nothing more. The index is built from the one numbering
plan (``telshield.domain.numbers.NumberingPlan``, compiled from phonenumbers by
``telshield.reference.numbering``): ``plan_tuples`` reduces its rows to (prefix, length, kind,
ours) and ``plan_from_tuples`` turns those into a ``PlanIndex``; a snapshot that carries no plan
gets the compiled one (``compiled_index``). A number is well-formed when it is canonical
(``telshield.domain.numbers.is_canonical``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache

import numpy as np
import numpy.typing as npt

from telshield.domain.numbers import (
    MAX_DIGITS,
    MIN_DIGITS,
    NumberKind,
    Operator,
    PlanRow,
    is_canonical,
)

I64 = npt.NDArray[np.int64]
_MEMO_MAX = 200_000  # memoised (length, leading digits) keys per table
_POW10 = np.array([10**i for i in range(MAX_DIGITS + 2)], dtype=np.int64)
_POW10F = _POW10[: MAX_DIGITS + 1].astype(np.float64)
_CHUNK = 1 << 16  # numbers a step of ``parse_numbers``'s fixed-width path


class Kind(IntEnum):
    """The kind of a presented number (small ints so that arrays of them stay small)."""

    MALFORMED = 0
    UNALLOCATED = 1
    MOBILE = 2
    FIXED = 3
    SERVICE = 4
    INTERNATIONAL = 5


@dataclass(frozen=True)
class PrefixRule:
    """Numbers that start with ``prefix`` and have ``min_len..max_len`` digits get ``value``."""

    prefix: str
    value: int
    min_len: int = MIN_DIGITS
    max_len: int = MAX_DIGITS


def parse_number(text: str) -> int:
    """The number as an int, or -1 when it is not canonical (3-15 ASCII digits, no leading 0)."""
    return int(text) if is_canonical(text) else -1


def parse_numbers(texts: Sequence[str]) -> I64:
    """Many numbers as an int64 array; malformed ones become -1 (as ``parse_number``)."""
    texts = list(texts)
    n = len(texts)
    joined = "\n".join(texts)
    if n and joined.isascii():
        fixed = _fixed_width(joined, n, len(texts[0]))
        if fixed is not None:
            return fixed
    if n and joined.isascii() and joined.count("\n") == n - 1:
        # Fast path: numpy's text parser reads them all in one C loop, and the numbers prove
        # the texts were canonical: a positive number of 3-15 digits takes at least as many
        # characters as it has digits (more with a sign, a space or a leading zero), so the
        # digits adding up to the characters means every text is exactly its number.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a text it cannot read ends the array early
            try:
                values = np.fromstring(joined, dtype=np.int64, sep="\n")
            except ValueError:
                values = np.empty(0, dtype=np.int64)
        if values.size == n:
            d = digit_counts(values)
            if int(d.min()) >= MIN_DIGITS and int(d.max()) <= MAX_DIGITS and \
                    int(d.sum()) == len(joined) - (n - 1):
                return values
    return np.fromiter(map(parse_number, texts), dtype=np.int64, count=n)


def _fixed_width(joined: str, n: int, width: int) -> I64 | None:
    """The numbers of ``n`` ASCII texts joined by newlines when each is ``width`` characters
    and canonical (the usual batch: numbers of one length), else None (not all are).

    With exactly that length, the joined text has a newline at every ``width + 1``-th place;
    when those are newlines and every other character is a digit, it holds no other newline,
    so the texts are exactly the rows of digits between them."""
    if not MIN_DIGITS <= width <= MAX_DIGITS or len(joined) != n * (width + 1) - 1:
        return None
    # Digit values; a byte below "0" wraps round to above 9, and the newline (10) to 218.
    flat = np.frombuffer((joined + "\n").encode("ascii"), dtype=np.uint8) - np.uint8(48)
    rows = flat.reshape(n, width + 1)
    if not (rows[:, width] == 218).all() or int(np.count_nonzero(flat > 9)) != n or \
            not rows[:, 0].all():
        return None
    # In doubles, exactly: every product and partial sum is an integer below 10**15 < 2**53;
    # in chunks, so that the matrix of doubles stays small however many numbers come.
    scale = _POW10F[width - 1 :: -1]
    out = np.empty(n, dtype=np.int64)
    for lo in range(0, n, _CHUNK):
        out[lo : lo + _CHUNK] = rows[lo : lo + _CHUNK, :width].astype(np.float64) @ scale
    return out


def digit_counts(numbers: I64) -> npt.NDArray[np.intp]:
    """How many decimal digits each (positive) number has; 0 for malformed (-1) entries."""
    d = np.searchsorted(_POW10, numbers, side="right")
    return np.where(numbers > 0, d, 0)


class PrefixTable:
    """Longest-prefix match with a length condition, for single numbers and int64 arrays."""

    def __init__(self, rules: Iterable[PrefixRule], default: int = -1) -> None:
        self.default = default
        self._rules = tuple(rules)
        # (length, prefix) -> value, the longest prefix winning on lookup.
        self._exact: dict[tuple[int, str], int] = {}
        for r in self._rules:
            if not (r.prefix.isdigit() and 1 <= len(r.prefix) <= r.max_len):
                raise ValueError(f"bad prefix rule {r}: prefix must be 1..max_len digits")
            for n in range(max(r.min_len, len(r.prefix)), r.max_len + 1):
                self._exact.setdefault((n, r.prefix), r.value)
        self._lens = sorted({len(r.prefix) for r in self._rules}, reverse=True)
        self.width = self._lens[0] if self._lens else 0
        # Memo per number length: first `width` digits -> value (bounded by _MEMO_MAX in all).
        self._memo: list[dict[str, int]] = [{} for _ in range(MAX_DIGITS + 1)]
        self._memo_size = 0
        self._intervals = Intervals(self.width, [self._rules], self._slow, default)

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def rules(self) -> tuple[PrefixRule, ...]:
        """The rules, as given."""
        return self._rules

    def _slow(self, text: str) -> int:
        n = len(text)
        for k in self._lens:
            if k <= n:
                v = self._exact.get((n, text[:k]))
                if v is not None:
                    return v
        return self.default

    def lookup(self, text: str) -> int:
        """The value of the longest matching rule for a digit string, or the default."""
        # The answer depends only on the length and the first `width` digits: memoise on that.
        n = len(text)
        if n > MAX_DIGITS:
            return self._slow(text)
        memo = self._memo[n]
        key = text[: self.width]
        v = memo.get(key)
        if v is None:
            v = self._slow(text)
            if self._memo_size < _MEMO_MAX:
                memo[key] = v
                self._memo_size += 1
        return v

    def lookup_many(self, numbers: I64) -> npt.NDArray[np.int32]:
        """Values for an int64 array of numbers (-1 entries get the default)."""
        return self._intervals.lookup(numbers)


class Intervals:
    """Longest-prefix answers for arrays of numbers, one binary search a number.

    The answer for a number depends only on its length n and its first min(n, width) digits
    (its lead), and between two rule boundaries it does not change: so the answers are kept as
    sorted interval starts ``n * 10**width + lead``, each with the answer from there on,
    computed once by ``value`` (the single-number look-up) for a number starting there;
    ``default`` is the answer for -1 (malformed) entries."""

    def __init__(self, width: int, tables: Sequence[Sequence[PrefixRule]],
                 value: Callable[[str], int], default: int) -> None:
        self.width, self.default = width, default
        bounds: dict[int, set[int]] = {}
        for rules in tables:
            for r in rules:
                k, p = len(r.prefix), int(r.prefix)
                for n in range(max(r.min_len, k), r.max_len + 1):
                    w = min(width, n)
                    bounds.setdefault(n, set()).update((p * 10 ** (w - k), (p + 1) * 10 ** (w - k)))
        keys: list[int] = []
        values: list[int] = []
        for n in range(1, MAX_DIGITS + 2):  # every length starts afresh (at lead 0)
            w = min(width, n)
            for lead in sorted({0} | {b for b in bounds.get(n, ()) if b < 10**w}):
                keys.append(n * 10**width + lead)
                values.append(value(str(lead).zfill(w) + "0" * (n - w)))
        self._keys = np.array(keys, dtype=np.int64)
        self._values = np.array(values, dtype=np.int32)

    def lookup(self, numbers: I64) -> npt.NDArray[np.int32]:
        """The answer for each number (the default for -1 entries)."""
        if self.width == 0 or numbers.size == 0:
            return np.full(numbers.shape, self.default, dtype=np.int32)
        # Digit counts (0 for -1 entries, whose answer is the default whatever they look up).
        d = np.searchsorted(_POW10, numbers, side="right")
        lead = numbers // _POW10[np.maximum(d - self.width, 0)]
        i = np.searchsorted(self._keys, d * 10**self.width + lead, side="right") - 1
        return np.where(numbers > 0, self._values[i], np.int32(self.default))


OWN = 8  # the bit ``PlanIndex.classify`` adds to the kind for one of our own numbers
CARRIER_SHIFT = 4  # ``code >> CARRIER_SHIFT``: the carrier a mobile's segment is allocated to
# Carrier codes (0: not known, e.g. a landline or a service number), in the order of the feeds'
# ``reference.schemas.CARRIERS``.
CARRIERS: tuple[Operator, ...] = (
    Operator.CHINA_MOBILE, Operator.CHINA_UNICOM, Operator.CHINA_TELECOM, Operator.CHINA_BROADNET,
)
CARRIER_CODE: dict[str, int] = {op.value: i + 1 for i, op in enumerate(CARRIERS)}


@dataclass(frozen=True)
class PlanIndex:
    """The numbering plan indexed for screening: kind, whether a number belongs to our
    network and the carrier its segment is allocated to, for one presented number or an array
    of them. A number's *code* packs the three: ``kind | OWN | carrier << CARRIER_SHIFT``."""

    kinds: PrefixTable
    own: PrefixTable
    carriers: PrefixTable | None = None  # carrier codes of mobile segments (None: not known)
    # The code per number length and leading digits (the tables' answers depend on no more).
    memo: list[dict[str, int]] = field(init=False, repr=False, compare=False)
    width: int = field(init=False, repr=False, compare=False)
    # The codes for arrays of numbers, one binary search a number.
    codes: Intervals = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tables = [self.kinds, self.own] + ([self.carriers] if self.carriers is not None else [])
        object.__setattr__(self, "memo", [{} for _ in range(MAX_DIGITS + 1)])
        object.__setattr__(self, "width", max(t.width for t in tables))
        object.__setattr__(self, "codes", Intervals(
            self.width, [t.rules for t in tables], self._code, Kind.MALFORMED))

    def _code(self, text: str) -> int:
        code = self.kinds.lookup(text) | (OWN if self.own.lookup(text) == 1 else 0)
        if self.carriers is not None:
            code |= self.carriers.lookup(text) << CARRIER_SHIFT
        return code

    def classify(self, text: str) -> int:
        """The code of a well-formed number (3-15 digits), memoised: the hot path reads
        ``memo[len(text)].get(text[:width])`` itself and calls this on a miss."""
        memo = self.memo[len(text)]
        key = text[: self.width]
        v = memo.get(key)
        if v is None:
            v = self._code(text)
            if len(memo) < _MEMO_MAX:
                memo[key] = v
        return v

    def carrier(self, text: str) -> int:
        """The carrier code of a number's segment (0: not known, or not a mobile)."""
        return 0 if parse_number(text) < 0 else self.classify(text) >> CARRIER_SHIFT

    def kind(self, text: str) -> Kind:
        """The kind of one presented number (digit string)."""
        if parse_number(text) < 0:
            return Kind.MALFORMED
        return Kind(self.kinds.lookup(text))

    def kinds_of(self, numbers: I64) -> npt.NDArray[np.int32]:
        """Kinds (as ints) of many numbers; -1 entries are MALFORMED."""
        out = self.kinds.lookup_many(numbers)
        out[numbers < 0] = Kind.MALFORMED
        return out

    def codes_of(self, numbers: I64) -> npt.NDArray[np.int32]:
        """The codes of many numbers, as ``classify`` gives for one; -1 entries are
        MALFORMED."""
        return self.codes.lookup(numbers)

    def is_own(self, text: str) -> bool:
        """Whether the number lies in one of our own number segments."""
        return self.own.lookup(text) == 1

    def own_many(self, numbers: I64) -> npt.NDArray[np.bool_]:
        """Whether each number lies in one of our own number segments."""
        return self.own.lookup_many(numbers) == 1


_KIND_OF = {
    NumberKind.MOBILE: Kind.MOBILE,
    NumberKind.FIXED: Kind.FIXED,
    NumberKind.SERVICE: Kind.SERVICE,
    NumberKind.INTERNATIONAL: Kind.INTERNATIONAL,
    NumberKind.INVALID: Kind.UNALLOCATED,
}


# prefix, number length, Kind, 1 when ours, carrier code of a mobile segment (0: not known).
PlanTuple = tuple[str, int, int, int, int]


def plan_tuples(
    rows: Iterable[PlanRow],
    own: Operator = Operator.CHINA_MOBILE,
    province: str | None = None,
) -> list[PlanTuple]:
    """The project's numbering-plan rows (``telshield numbers plan``) reduced to what screening
    needs: kind, whether ours (mobile numbers of ``own``, homed in ``province`` when given:
    a provincial operator's other provinces reach it over inter-province trunks) and the carrier
    a mobile segment is allocated to (a virtual operator's: its host's). Rows that say the same
    as a shorter prefix are dropped."""
    full: dict[tuple[str, int], tuple[int, int, int]] = {}
    for r in rows:
        mobile = r.kind is NumberKind.MOBILE
        ours = r.operator is own and mobile
        if province is not None:
            ours = ours and r.province == province
        carrier = CARRIER_CODE.get(r.operator.value, 0) if mobile else 0
        full[(r.prefix, r.length)] = (int(_KIND_OF[r.kind]), int(ours), carrier)
    out: list[PlanTuple] = []
    for (prefix, length), value in full.items():
        parent = next(
            (full[(prefix[:k], length)] for k in range(len(prefix) - 1, 0, -1)
             if (prefix[:k], length) in full),
            None,
        )
        if parent != value:
            out.append((prefix, length, *value))
    return sorted(out)


def plan_from_tuples(rows: Iterable[Sequence[str | int]]) -> PlanIndex:
    """A plan from (prefix, length, kind, ours, carrier) rows; a number no row admits is
    unallocated. Rows of four (a snapshot written before carriers were kept) know no carrier."""
    tuples = [(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]) if len(r) > 4 else 0)
              for r in rows]
    kinds = PrefixTable(
        (PrefixRule(p, k, n, n) for p, n, k, _, _ in tuples), default=Kind.UNALLOCATED
    )
    own = PrefixTable((PrefixRule(p, o, n, n) for p, n, _, o, _ in tuples), default=0)
    carriers = PrefixTable((PrefixRule(p, c, n, n) for p, n, _, _, c in tuples), default=0)
    return PlanIndex(kinds, own, carriers)


@cache  # seconds of compiling; the phonenumbers metadata does not change within a process
def compiled_index() -> PlanIndex:
    """The index of the compiled numbering plan, our numbers being China Mobile's mobiles: what a
    snapshot that carries no plan of its own classifies with (wiring always passes one)."""
    from telshield.reference.numbering import build_plan_rows

    return plan_from_tuples(plan_tuples(build_plan_rows()))
