"""The list entry law: validation and precedence (whitelist beats blacklist, except police)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from telshield.domain.errors import InvalidInput
from telshield.domain.lists import ListEntry, detection_cap, effective, white_width

T0 = datetime(2026, 3, 1, 9)
N = "8613812345678"


def entry(colour: str, *, source: str = "manual", police: bool = False, kind: str = "number",
          value: str = N, end: str = "", expires: datetime | None = None,
          at: datetime = T0, owner: str = "") -> ListEntry:
    return ListEntry.new(kind, value, colour, source=source, reason="r", actor="t", at=at,
                         expires_at=expires, value_end=end, police_ordered=police, owner=owner)


@pytest.mark.parametrize(
    ("entries", "winner"),
    [
        ([entry("black"), entry("white")], "white"),
        ([entry("grey"), entry("black")], "black"),
        ([entry("white"), entry("black", source="police", police=True)], "police"),
        ([entry("white"), entry("black", source="police")], "white"),  # a clue, not an order
        ([entry("grey")], "grey"),
        ([], None),
    ],
)
def test_precedence(entries: list[ListEntry], winner: str | None) -> None:
    got = effective(entries, T0)
    if winner is None:
        assert got is None
    elif winner == "police":
        assert got is not None and got.police_ordered
    else:
        assert got is not None and got.colour.value == winner


def test_expired_entries_do_not_count() -> None:
    white = entry("white", expires=T0 + timedelta(hours=1))
    black = entry("black")
    assert effective([white, black], T0).colour.value == "white"
    assert effective([white, black], T0 + timedelta(hours=1)).colour.value == "black"


@pytest.mark.parametrize(
    ("kind", "value", "end", "number", "covers"),
    [
        ("number", N, "", N, True),
        ("number", N, "", "8613812345679", False),
        ("prefix", "86170", "", "8617012345678", True),
        ("prefix", "86170", "", "8613812345678", False),
        ("range", "8613800000000", "8613899999999", N, True),
        ("range", "8613800000000", "8613899999999", "8613900000000", False),
        ("range", "8613800000000", "8613899999999", "861380000", False),  # other length
    ],
)
def test_matches_number(kind: str, value: str, end: str, number: str, covers: bool) -> None:
    assert entry("black", kind=kind, value=value, end=end).matches_number(number) is covers


@pytest.mark.parametrize(
    ("kind", "value", "end", "colour", "extra"),
    [
        ("number", "+86 138", "", "black", {}),
        ("number", "12", "", "black", {}),
        ("range", "8613899999999", "8613800000000", "black", {}),  # high before low
        ("range", "86138", "8613899999999", "black", {}),  # unequal lengths
        ("imei", "12345", "", "black", {}),
        ("id_hash", "xyz", "", "black", {}),
        ("number", N, "", "purple", {}),
        ("number", N, "", "white", {"police": True, "source": "police"}),
        ("number", N, "", "black", {"police": True}),  # police order must come from police
        ("number", N, "", "black", {"expires": T0}),  # expires at creation
    ],
)
def test_invalid_entries_are_refused(kind: str, value: str, end: str, colour: str,
                                     extra: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        entry(colour, kind=kind, value=value, end=end, **extra)


def test_hash_is_lowercased() -> None:
    h = "AB" * 32
    assert entry("black", kind="id_hash", value=h).value == h.lower()


def test_reason_is_required() -> None:
    with pytest.raises(InvalidInput, match="reason"):
        ListEntry.new("number", N, "black", source="manual", reason=" ", actor="t", at=T0)


# --- the enterprise whitelist: white entries with an owner and an expiry ----------------------

LATER = T0 + timedelta(days=180)


def test_an_enterprise_entry_names_its_owner_and_expiry() -> None:
    e = entry("white", owner="  Jiangsu  Sunrise Telemarketing Ltd ", expires=LATER,
              kind="range", value="8613800000000", end="8613800000099")
    assert e.enterprise and e.owner == "Jiangsu Sunrise Telemarketing Ltd"
    assert e.whitelisted_text() == "whitelisted: Jiangsu Sunrise Telemarketing Ltd until 2026-08-28"
    assert not entry("white").enterprise and not entry("black").enterprise


@pytest.mark.parametrize(
    ("colour", "kind", "value", "expires", "problem"),
    [
        ("black", "number", N, LATER, "only a white entry"),
        ("grey", "number", N, LATER, "only a white entry"),
        ("white", "number", N, None, "needs an expiry"),
        ("white", "imei", "861234560000011", LATER, "number, a prefix or a range"),
    ],
)
def test_an_owner_only_on_a_white_number_entry_with_an_expiry(
    colour: str, kind: str, value: str, expires: datetime | None, problem: str
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        entry(colour, kind=kind, value=value, expires=expires, owner="Acme")


def test_an_owner_of_more_than_128_characters_is_refused() -> None:
    with pytest.raises(InvalidInput, match="128"):
        entry("white", expires=LATER, owner="x" * 129)


ACME = entry("white", owner="Acme", expires=T0 + timedelta(days=30))
ACME_LONGER = entry("white", owner="Acme Group", expires=T0 + timedelta(days=90),
                    kind="prefix", value="86138123")
PLAIN_WHITE = entry("white")
CLUE = entry("black", source="police")  # a clue's entry, not an order
ORDER = entry("black", source="police", police=True)


@pytest.mark.parametrize(
    ("entries", "at", "owner"),
    [
        ([ACME], T0, "Acme"),
        ([ACME], T0 + timedelta(days=30), None),  # expired: no longer caps
        ([ACME, ACME_LONGER], T0, "Acme Group"),  # the one in force longest
        ([ACME, ACME_LONGER], T0 + timedelta(days=31), "Acme Group"),
        ([PLAIN_WHITE], T0, None),  # a plain white entry (a VIP, a bank) caps nothing
        ([ACME, CLUE], T0, "Acme"),
        ([ACME, ORDER], T0, None),  # a police-ordered block lifts the cap
        ([], T0, None),
    ],
)
def test_detection_cap(entries: list[ListEntry], at: datetime, owner: str | None) -> None:
    got = detection_cap(entries, at)
    assert (got.owner if got is not None else None) == owner


# --- one number law at the list's edge ---------------------------------------------------------

@pytest.mark.parametrize(
    ("kind", "value", "end", "canonical"),
    [
        ("number", "0" + N, "", ""),  # beside the black N, screening answered allow
        ("number", "+" + N, "", N),
        ("number", " " + N, "", N),
        ("number", "86 138 1234 5678", "", N),
        ("number", "\uff18\uff16" + N[2:], "", N),  # full-width digits
        ("number", "\u0668\u0666" + N[2:], "", N),  # Arabic-Indic digits
        ("prefix", "0861381", "", ""),
        ("prefix", "\uff18\uff16138", "", "86138"),
        ("range", "08613800000000", "08613800000019", ""),
        ("range", "8613800000000", "+8613800000019", "8613800000019"),
    ],
)
def test_non_canonical_spellings_are_refused_with_the_canonical_form(
        kind: str, value: str, end: str, canonical: str) -> None:
    with pytest.raises(InvalidInput, match="canonical") as e:
        entry("white", kind=kind, value=value, end=end)
    if canonical:
        assert canonical in str(e.value)


def test_canonical_spellings_are_kept_as_given() -> None:
    assert entry("black").value == N
    assert entry("black", kind="prefix", value="86138").value == "86138"


@pytest.mark.parametrize("offset", ["+14:00", "-12:00", "+08:00", "+00:00"])
def test_an_aware_expiry_is_converted_to_store_time(offset: str) -> None:
    # Store time is naive UTC: 2026-03-02 10:00 at +14:00 is 2026-03-01 20:00 UTC.
    aware = datetime.fromisoformat(f"2026-03-02T10:00:00{offset}")
    e = entry("black", expires=aware)
    assert e.expires_at is not None and e.expires_at.tzinfo is None
    assert e.expires_at == aware.astimezone(UTC).replace(tzinfo=None)


def test_an_aware_expiry_before_creation_is_refused() -> None:
    # 09:30 at +14:00 is 19:30 UTC the day before T0 (09:00 UTC): not after creation.
    with pytest.raises(InvalidInput, match="expiry"):
        entry("black", expires=datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=14))))


@pytest.mark.parametrize(
    ("kind", "value", "end", "width"),
    [
        ("number", N, "", 13),
        ("prefix", "8", "", 1),
        ("prefix", "8613812", "", 7),
        ("range", "8613800000000", "8613800000019", 11),
        ("range", "8613800000000", "8613899999999", 5),
        ("imei", "86123400123456", "", 14),
    ],
)
def test_white_width_is_the_digits_an_entry_pins(kind: str, value: str, end: str,
                                                 width: int) -> None:
    assert white_width(entry("white", kind=kind, value=value, end=end)) == width
