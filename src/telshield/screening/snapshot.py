"""The immutable in-memory snapshot a decision reads: list entries, warnings, protected callees
and prefix rules, held as one sorted int64 array of numbers with a one-byte flag set each, plus a
compressed bitmap of the same numbers so that an unlisted number (most calls) costs one probe.

About 9 bytes a number for the arrays and 2-3 for the bitmap: 10^8 numbers fit in ~1.2 GB.
A snapshot is never changed after it is built; the engine swaps it by one reference assignment.
"""

from __future__ import annotations

import array
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from pyroaring import BitMap64

from telshield.domain.alerts import Tier
from telshield.domain.clock import StoreTime, store_epoch
from telshield.domain.lists import Colour, ListEntry, TargetKind, effective
from telshield.domain.numbers import MAX_DIGITS
from telshield.screening.numbering import (
    I64,
    PlanIndex,
    PlanTuple,
    PrefixRule,
    PrefixTable,
    compiled_index,
    parse_number,
    plan_from_tuples,
)

U8 = npt.NDArray[np.uint8]

# One byte of flags per number. Bits, not codes, so that duplicates combine with OR.
WHITE, BLACK, POLICE, GREY = 1, 2, 4, 8
WATCH, VERIFY, SUSPEND = 16, 32, 64
PROTECTED = 128
LIST_BITS = WHITE | BLACK | POLICE | GREY
TIER_BITS = {Tier.WATCH: WATCH, Tier.VERIFY: VERIFY, Tier.SUSPEND: SUSPEND}
COLOUR_BITS = {Colour.WHITE: WHITE, Colour.BLACK: BLACK, Colour.GREY: GREY}
# Device kinds (device_intel feed) whose call set-ups are barred: SIM gateways and SIM banks.
BARRED_DEVICE_KINDS = ("goip", "simbank")
# Above this many numbers, ``flags_many`` probes the bitmap before searching the sorted keys.
_PROBE_FIRST = 1 << 16
# ... for that many numbers at least: a few are searched for straight away (the probe's fixed
# cost is that of several binary searches).
_PROBE_MIN_BATCH = 64
_ONE_BY_ONE = 16  # up to this many numbers, a large snapshot's ``flags_many`` asks ``flags_of``
_BLOCK = 16  # keys a block (``Snapshot.fence``)
_IN_BLOCK = np.arange(_BLOCK)


class Outcome(StrEnum):
    """What the switch is told to do with a call."""

    ALLOW = "allow"
    LABEL = "label"  # connect, and show the callee a fraud-risk label
    WARN_CALLEE = "warn_callee"  # connect, and warn the callee (voice prompt / SMS)
    REJECT = "reject"

    @property
    def rank(self) -> int:
        """Severity: allow < label < warn_callee < reject."""
        return _OUTCOME_RANK[self]


_OUTCOME_RANK = {Outcome.ALLOW: 0, Outcome.LABEL: 1, Outcome.WARN_CALLEE: 2, Outcome.REJECT: 3}


@dataclass(frozen=True)
class RiskPrefix:
    """A high-risk prefix rule: calls from numbers under ``prefix`` get ``outcome``."""

    prefix: str
    outcome: Outcome
    code: str  # reason code suffix, e.g. "virtual_operator"
    min_len: int = 3
    max_len: int = MAX_DIGITS


@dataclass(frozen=True)
class SnapshotInput:
    """What a snapshot is built from, as plain columns (the store's lists feed it via wiring).

    ``list_numbers``/``list_flags``: numbers and their list bits (WHITE, BLACK, POLICE, GREY).
    ``warned``/``warned_tiers``: numbers under warning and their tier bits (WATCH, VERIFY,
    SUSPEND). ``protected``: callees to protect. ``list_prefixes``: prefix/range list entries
    as (prefix, min_len, max_len, list bits). ``risk_prefixes``: high-risk prefix rules.
    ``barred_tacs``: IMEI type allocation codes (8 digits) whose devices may not set up calls,
    with their device kind (``goip``, ``simbank``), which names the reason (``device:goip``).
    ``barred_imeis``: single devices (IMEIs) on the blacklist, e.g. the phones barred fraud
    numbers used (``services.devices``); their call set-ups are rejected (``device:listed``).
    ``roaming``: our subscribers registered on a foreign network now (from the visited
    networks' location updates): their own number arriving over the international gateway is
    them calling home, not a spoof. ``ported``/``ported_carriers``: numbers served by a carrier
    other than the one their segment is allocated to (the number-portability database) and the
    carrier code (``numbering.CARRIER_CODE``) of each: a call over interconnect is checked
    against the carrier that serves its number, not the one its segment names.
    """

    list_numbers: I64 = field(default_factory=lambda: np.empty(0, np.int64))
    list_flags: U8 = field(default_factory=lambda: np.empty(0, np.uint8))
    warned: I64 = field(default_factory=lambda: np.empty(0, np.int64))
    warned_tiers: U8 = field(default_factory=lambda: np.empty(0, np.uint8))
    protected: I64 = field(default_factory=lambda: np.empty(0, np.int64))
    list_prefixes: tuple[tuple[str, int, int, int], ...] = ()
    risk_prefixes: tuple[RiskPrefix, ...] = ()
    plan: tuple[PlanTuple, ...] = ()  # the numbering plan; empty means the compiled one
    barred_tacs: tuple[tuple[str, str], ...] = ()  # (IMEI TAC, device kind) of barred devices
    barred_imeis: tuple[str, ...] = ()  # blacklisted devices
    roaming: I64 = field(default_factory=lambda: np.empty(0, np.int64))  # ours, abroad now
    ported: I64 = field(default_factory=lambda: np.empty(0, np.int64))
    ported_carriers: U8 = field(default_factory=lambda: np.empty(0, np.uint8))
    as_of: float = 0.0  # epoch seconds of the data the snapshot reflects
    version: str = ""


def range_prefixes(low: str, high: str) -> list[str]:
    """The fewest prefixes that cover exactly the equal-length digit range low..high."""
    n, lo, hi = len(low), int(low), int(high)
    out: list[str] = []
    while lo <= hi:
        size = 1
        # Grow the block while lo is aligned to it and the block stays inside the range.
        while size * 10 <= 10**n and lo % (size * 10) == 0 and lo + size * 10 - 1 <= hi:
            size *= 10
        digits = n - (len(str(size)) - 1)
        out.append(str(lo).zfill(n)[:digits])
        lo += size
    return out


def input_from_entries(
    entries: Iterable[ListEntry],
    *,
    at: StoreTime,
    warnings: Sequence[tuple[str, Tier]] = (),
    protected: Sequence[str] = (),
    risk_prefixes: Sequence[RiskPrefix] = (),
    roaming: Sequence[str] = (),
    version: str = "",
) -> SnapshotInput:
    """Build a snapshot input from list entries (the effective one per target wins at ``at``,
    store time: naive UTC, as entries expire), warnings and the numbers of our subscribers
    abroad; a blacklisted IMEI bars its device; identity entries do not concern call screening
    and are skipped."""
    by_target: dict[tuple[TargetKind, str, str], list[ListEntry]] = {}
    for e in entries:
        if e.kind in (TargetKind.NUMBER, TargetKind.PREFIX, TargetKind.RANGE, TargetKind.IMEI):
            by_target.setdefault((e.kind, e.value, e.value_end), []).append(e)
    imeis: list[str] = []
    nums: list[int] = []
    flags: list[int] = []
    prefixes: list[tuple[str, int, int, int]] = []
    for (kind, value, value_end), group in by_target.items():
        win = effective(group, at)
        if win is None:
            continue
        bits = POLICE if win.police_ordered else COLOUR_BITS[win.colour]
        if kind is TargetKind.IMEI:
            if bits & (BLACK | POLICE):
                imeis.append(value)
        elif kind is TargetKind.NUMBER:
            n = parse_number(value)
            if n > 0:
                nums.append(n)
                flags.append(bits)
        elif kind is TargetKind.PREFIX:
            prefixes.append((value, max(len(value), 3), MAX_DIGITS, bits))
        else:
            n = len(value)
            prefixes += [(p, n, n, bits) for p in range_prefixes(value, value_end)]
    w = [(parse_number(n), TIER_BITS[t]) for n, t in warnings]
    w = [(n, b) for n, b in w if n > 0]
    return SnapshotInput(
        list_numbers=np.array(nums, dtype=np.int64),
        list_flags=np.array(flags, dtype=np.uint8),
        warned=np.array([n for n, _ in w], dtype=np.int64),
        warned_tiers=np.array([b for _, b in w], dtype=np.uint8),
        protected=np.array([n for n in map(parse_number, protected) if n > 0], dtype=np.int64),
        list_prefixes=tuple(prefixes),
        risk_prefixes=tuple(risk_prefixes),
        barred_imeis=tuple(sorted(imeis)),
        roaming=np.array([n for n in map(parse_number, roaming) if n > 0], dtype=np.int64),
        as_of=store_epoch(at),
        version=version,
    )


class Snapshot:
    """The immutable lookup structure; build it with ``Snapshot.build``."""

    __slots__ = (
        "as_of",
        "build_seconds",
        "built_at",
        "device_results",
        "fence",
        "flags",
        "has_list_prefixes",
        "imeis",
        "keys",
        "list_prefixes",
        "listed",
        "plan",
        "ported",
        "ported_carriers",
        "ported_probe",
        "ported_set",
        "probe",
        "risk_prefixes",
        "risk_results",
        "risk_table",
        "roaming",
        "roaming_set",
        "tac_kinds",
        "tac_reasons",
        "tacs",
        "version",
    )

    def __init__(
        self,
        keys: I64,
        flags: U8,
        listed: BitMap64,
        list_prefixes: PrefixTable,
        risk_prefixes: tuple[RiskPrefix, ...],
        *,
        plan: PlanIndex,
        as_of: float,
        version: str,
        build_seconds: float,
        barred_tacs: tuple[tuple[str, str], ...] = (),
        barred_imeis: tuple[str, ...] = (),
        roaming: I64 | None = None,
        ported: tuple[I64, U8] | None = None,
    ) -> None:
        keys.setflags(write=False)
        flags.setflags(write=False)
        self.keys = keys
        self.flags = flags
        self.listed = listed
        self.probe = _Probe(keys) if keys.size > _PROBE_FIRST else None
        # Every _BLOCK-th key: a search for many numbers finds each one's block in this small
        # array (cached) and reads the block (two cache lines), instead of a binary search over
        # all the keys that misses the cache at nearly every step.
        self.fence = keys[::_BLOCK].copy() if self.probe is not None else None
        self.list_prefixes = list_prefixes
        self.has_list_prefixes = len(list_prefixes) > 0
        self.risk_prefixes = risk_prefixes
        self.risk_table = PrefixTable(
            [PrefixRule(r.prefix, i, r.min_len, r.max_len) for i, r in enumerate(risk_prefixes)]
        )
        # What a call under each rule gets (the decision law picks from these by index).
        self.risk_results = tuple((r.outcome, "prefix:" + r.code) for r in risk_prefixes)
        self.plan = plan
        self.built_at = time.time()
        self.as_of = as_of or self.built_at
        self.version = version
        self.build_seconds = build_seconds
        self.tacs, self.tac_kinds, self.tac_reasons = _tac_arrays(barred_tacs)
        self.device_results = tuple((Outcome.REJECT, r) for r in self.tac_reasons)
        self.imeis = frozenset(barred_imeis)
        r = np.unique(np.asarray(roaming if roaming is not None else (), dtype=np.int64))
        self.roaming = r[r > 0]
        self.roaming.setflags(write=False)
        self.roaming_set = BitMap64(array.array("Q", self.roaming.astype(np.uint64).tobytes()))
        self.ported, self.ported_carriers = _ported_arrays(ported)
        self.ported_set = BitMap64(array.array("Q", self.ported.astype(np.uint64).tobytes()))
        # A national portability database holds tens of millions of numbers: the probe rules
        # out nearly every number that was never ported with one load, not a binary search.
        self.ported_probe = _Probe(self.ported) if self.ported.size > _PROBE_FIRST else None

    def tac_codes(self, tacs: I64) -> npt.NDArray[np.int16]:
        """Per TAC (-1: none), the index into ``tac_reasons`` of its barred kind, else -1."""
        if self.tacs.size == 0:
            return np.full(tacs.shape, -1, dtype=np.int16)
        i = np.minimum(np.searchsorted(self.tacs, tacs), self.tacs.size - 1)
        return np.where(self.tacs[i] == tacs, self.tac_kinds[i], -1).astype(np.int16)

    def tac_reason(self, tac: int) -> str:
        """The reason code barring one TAC (e.g. ``device:goip``), or '' when it is not barred."""
        k = self.tac_index(tac)
        return self.tac_reasons[k] if k >= 0 else ""

    def tac_index(self, tac: int) -> int:
        """The index into ``tac_reasons`` (and ``device_results``) barring one TAC, else -1."""
        if tac < 0 or self.tacs.size == 0:
            return -1
        i = int(np.searchsorted(self.tacs, tac))
        if i < self.tacs.size and int(self.tacs[i]) == tac:
            return int(self.tac_kinds[i])
        return -1

    def device_of(self, imei: str | None) -> int:
        """The barred device class of one caller IMEI as an index into ``device_results``;
        -1 when the IMEI is absent, malformed or of no barred class."""
        return self.tac_index(imei_tac(imei)) if imei and self.tacs.size else -1

    def devices_of(self, imeis: Sequence[str | None]) -> npt.NDArray[np.int16]:
        """``device_of`` for many IMEIs."""
        return self.tac_codes(imei_tacs(imeis))

    def roaming_many(self, numbers: I64) -> npt.NDArray[np.bool_]:
        """Whether each number is one of ours roaming abroad now."""
        if self.roaming.size == 0:
            return np.zeros(numbers.shape, dtype=bool)
        i = np.minimum(np.searchsorted(self.roaming, numbers), self.roaming.size - 1)
        return self.roaming[i] == numbers

    def ported_carrier(self, number: int) -> int:
        """The carrier code serving a ported number (0 when it is not ported)."""
        if number <= 0 or number not in self.ported_set:
            return 0
        return int(self.ported_carriers[int(np.searchsorted(self.ported, number))])

    def ported_many(self, numbers: I64) -> U8:
        """``ported_carrier`` of many numbers."""
        out = np.zeros(numbers.shape, dtype=np.uint8)
        if self.ported.size == 0 or numbers.size == 0:
            return out
        maybe = np.flatnonzero(self.ported_probe.maybe(numbers)) \
            if self.ported_probe is not None else np.arange(numbers.size)
        if maybe.size:
            n = numbers[maybe]
            i = np.minimum(np.searchsorted(self.ported, n), self.ported.size - 1)
            out[maybe] = np.where(self.ported[i] == n, self.ported_carriers[i], 0)
        return out

    @classmethod
    def build(cls, data: SnapshotInput) -> Snapshot:
        """Sort and merge the input's numbers into the lookup arrays and bitmap."""
        # Without a plan of its own, the compiled one: compiled once per process (seconds), not
        # a part of any one build.
        fallback = None if data.plan else compiled_index()
        t0 = time.perf_counter()
        parts_n = [data.list_numbers, data.warned, data.protected]
        parts_f = [
            data.list_flags.astype(np.uint8) & LIST_BITS,
            data.warned_tiers.astype(np.uint8) & (WATCH | VERIFY | SUSPEND),
            np.full(data.protected.shape, PROTECTED, dtype=np.uint8),
        ]
        for n, f in zip(parts_n, parts_f, strict=True):
            if n.shape != f.shape:
                raise ValueError("snapshot input: numbers and flags differ in length")
        # One sort of (number << 8 | flags): numbers have at most 15 digits, so this fits in
        # int64, and sorting plain int64 is several times faster than an argsort.
        packed = np.concatenate(
            [(n.astype(np.int64) << 8) | f for n, f in zip(parts_n, parts_f, strict=True)]
        )
        packed = packed[packed > 0]
        packed.sort()
        numbers = packed >> 8
        if numbers.size:
            starts = np.flatnonzero(np.concatenate(([True], numbers[1:] != numbers[:-1])))
            keys = numbers[starts]
            flags = np.bitwise_or.reduceat((packed & 0xFF).astype(np.uint8), starts)
        else:
            keys, flags = numbers, np.empty(0, dtype=np.uint8)
        del packed, numbers
        listed = BitMap64(array.array("Q", keys.astype(np.uint64).tobytes()))
        prefixes = PrefixTable(
            [PrefixRule(p, bits, lo, hi) for p, lo, hi, bits in data.list_prefixes], default=0
        )
        return cls(
            keys,
            flags,
            listed,
            prefixes,
            data.risk_prefixes,
            plan=plan_from_tuples(data.plan) if fallback is None else fallback,
            as_of=data.as_of,
            version=data.version,
            build_seconds=time.perf_counter() - t0,
            barred_tacs=data.barred_tacs,
            barred_imeis=data.barred_imeis,
            roaming=data.roaming,
            ported=(data.ported, data.ported_carriers),
        )

    def __len__(self) -> int:
        return int(self.keys.size)

    def flags_of(self, number: int) -> int:
        """The flag byte of one number (0 when it is in no list)."""
        if number <= 0 or number not in self.listed:
            return 0
        i = int(np.searchsorted(self.keys, number))
        return int(self.flags[i])

    def flags_many(self, numbers: I64) -> U8:
        """Flag bytes of many numbers (0 for those in no list, and for -1 entries)."""
        if self.keys.size == 0:
            return np.zeros(numbers.shape, dtype=np.uint8)
        if self.probe is not None and self.fence is not None:
            # A large snapshot: a binary search over its keys misses the cache at every step.
            # The probe (one load a number) rules out nearly every unlisted number; the few it
            # lets through (all of them, when they are few) are looked up block-wise.
            if numbers.size <= _ONE_BY_ONE:  # cheaper than the array steps for so few
                return np.fromiter(map(self.flags_of, numbers.tolist()), dtype=np.uint8,
                                   count=numbers.size)
            if numbers.size <= _PROBE_MIN_BATCH:
                return self._blockwise(numbers)
            out = np.zeros(numbers.shape, dtype=np.uint8)
            maybe = np.flatnonzero(self.probe.maybe(numbers))
            if maybe.size:
                out[maybe] = self._blockwise(numbers[maybe])
            return out
        i = np.searchsorted(self.keys, numbers)
        i = np.minimum(i, self.keys.size - 1)
        hit = self.keys[i] == numbers
        return np.where(hit, self.flags[i], 0).astype(np.uint8)

    def _blockwise(self, numbers: I64) -> U8:
        """Flag bytes of ``numbers`` (a large snapshot's ``fence`` in hand), found block-wise:
        the block that can hold each one, then its ``_BLOCK`` keys compared at once."""
        assert self.fence is not None
        start = np.maximum(np.searchsorted(self.fence, numbers, side="right") - 1, 0) * _BLOCK
        at = np.minimum(start[:, None] + _IN_BLOCK, self.keys.size - 1)
        hit = self.keys[at] == numbers[:, None]  # keys are unique: at most one per number
        return np.where(hit, self.flags[at], 0).max(axis=1, initial=0).astype(np.uint8)

    def memory_bytes(self) -> int:
        """Approximate bytes held: arrays, the compressed bitmap and the probe."""
        stats = self.listed.get_statistics()
        bitmap = (
            stats["n_bytes_array_containers"]
            + stats["n_bytes_run_containers"]
            + stats["n_bytes_bitset_containers"]
            + 16 * stats["n_containers"]
        )
        probe = self.probe.bits.nbytes if self.probe is not None else 0
        fence = self.fence.nbytes if self.fence is not None else 0
        return int(self.keys.nbytes + self.flags.nbytes + bitmap + probe + fence)


# Multiplicative (Fibonacci) hashing: spreads nearby numbers apart; two odd constants.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_GOLDEN_2 = np.uint64(0xC2B2AE3D27D4EB4F)


class _Probe:
    """A blocked Bloom filter over the snapshot's numbers, 12 bits a number at least: two bits
    a number, both in one 64-bit word, so one load a number (1-3% of unlisted numbers pass
    it): ``maybe`` is False only for numbers certainly not listed."""

    __slots__ = ("bits", "shift")

    def __init__(self, keys: I64) -> None:
        log2 = max(16, int(np.ceil(np.log2(keys.size * 12))))
        self.shift = np.uint64(64 - (log2 - 6))  # the top bits of one hash pick the word
        self.bits = np.zeros(1 << (log2 - 6), dtype=np.uint64)
        words, masks = self._slots(keys)
        np.bitwise_or.at(self.bits, words, masks)
        self.bits.setflags(write=False)

    def _slots(self, numbers: I64) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
        """The word of each number and its two bits in it (from the top 12 bits of a second
        hash)."""
        x = numbers.view(np.uint64)
        return (x * _GOLDEN) >> self.shift, _PAIRS[(x * _GOLDEN_2) >> np.uint64(52)]

    def maybe(self, numbers: I64) -> npt.NDArray[np.bool_]:
        """False where a number is certainly not in the snapshot."""
        words, masks = self._slots(np.ascontiguousarray(numbers, dtype=np.int64))
        return (self.bits[words] & masks) == masks


# The two bits (of 64) each 12-bit hash value stands for, as a mask.
_PAIRS = np.array([(1 << (i >> 6)) | (1 << (i & 63)) for i in range(1 << 12)], dtype=np.uint64)


def _ported_arrays(ported: tuple[I64, U8] | None) -> tuple[I64, U8]:
    """Ported numbers sorted and unique (the last row of a number wins), with their carrier
    codes; numbers that are not well-formed, and rows with no carrier, dropped."""
    if ported is None:
        numbers, carriers = np.empty(0, np.int64), np.empty(0, np.uint8)
    else:
        numbers = np.asarray(ported[0], dtype=np.int64)
        carriers = np.asarray(ported[1], dtype=np.uint8)
        if numbers.shape != carriers.shape:
            raise ValueError("snapshot input: ported numbers and carriers differ in length")
    keep = (numbers > 0) & (carriers > 0)
    numbers, carriers = numbers[keep], carriers[keep]
    # Unique by number, the last row winning: reverse, then the first of each in a stable sort.
    order = np.argsort(numbers[::-1], kind="stable")
    rev_n, rev_c = numbers[::-1][order], carriers[::-1][order]
    first = np.concatenate(([True], rev_n[1:] != rev_n[:-1])) if rev_n.size else \
        np.empty(0, dtype=bool)
    numbers, carriers = np.ascontiguousarray(rev_n[first]), np.ascontiguousarray(rev_c[first])
    numbers.setflags(write=False)
    carriers.setflags(write=False)
    return numbers, carriers


def _tac_arrays(
    barred: tuple[tuple[str, str], ...],
) -> tuple[I64, npt.NDArray[np.int16], tuple[str, ...]]:
    """Sorted unique TACs, the reason index of each, and the reasons (``device:<kind>``)."""
    kinds = sorted({k for _, k in barred})
    index = {k: i for i, k in enumerate(kinds)}
    pairs = sorted({(int(t), index[k]) for t, k in barred if len(t) == 8 and t.isdigit()})
    tacs = np.array([t for t, _ in pairs], dtype=np.int64)
    codes = np.array([k for _, k in pairs], dtype=np.int16)
    if tacs.size > 1:  # one kind per TAC: the first (by kind name) wins
        keep = np.concatenate(([True], tacs[1:] != tacs[:-1]))
        tacs, codes = tacs[keep], codes[keep]
    tacs.setflags(write=False)
    codes.setflags(write=False)
    return tacs, codes, tuple("device:" + k for k in kinds)


def imei_tacs(imeis: Sequence[str | None]) -> I64:
    """The TAC (first 8 digits) of each IMEI as an int; -1 where absent or not 14-16 digits."""
    return np.fromiter(
        (int(m[:8]) if m and 13 < len(m) < 17 and m.isdigit() and m.isascii() else -1
         for m in imeis),
        dtype=np.int64,
        count=len(imeis),
    )


def imei_tac(imei: str | None) -> int:
    """The TAC of one IMEI as an int; -1 where absent or not 14-16 digits."""
    if imei and 13 < len(imei) < 17 and imei.isdigit() and imei.isascii():
        return int(imei[:8])
    return -1
