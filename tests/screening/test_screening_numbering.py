"""The screening numbering plan and prefix tables: single and vectorised lookups agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telshield.domain.numbers import NumberKind, Operator, PlanRow
from telshield.screening.numbering import (
    Kind,
    PrefixRule,
    PrefixTable,
    compiled_index,
    parse_number,
    plan_from_tuples,
    plan_tuples,
)
from telshield.screening.snapshot import range_prefixes

PLAN = compiled_index()  # the plan compiled from phonenumbers, ours: China Mobile


@pytest.mark.parametrize(
    ("number", "kind", "own"),
    [
        ("8613812345678", Kind.MOBILE, True),  # China Mobile 138
        ("8613012345678", Kind.MOBILE, False),  # China Unicom 130
        ("8614012345678", Kind.UNALLOCATED, False),  # 140 is not allocated
        ("861381234567", Kind.UNALLOCATED, False),  # a mobile prefix with a digit missing
        ("862584001234", Kind.FIXED, False),  # Nanjing 025
        ("861088881234", Kind.FIXED, False),  # Beijing 010
        ("8651288881234", Kind.FIXED, False),  # Suzhou 0512
        ("8695588", Kind.SERVICE, False),
        ("8610086", Kind.SERVICE, False),
        ("86110", Kind.SERVICE, False),  # the police: a named service number
        ("8699999", Kind.UNALLOCATED, False),  # no service range has 99xxx
        ("864001234567", Kind.SERVICE, False),
        ("85291234567", Kind.INTERNATIONAL, False),
        ("12025550123", Kind.INTERNATIONAL, False),
        ("86abc", Kind.MALFORMED, False),
        ("+8613812345678", Kind.MALFORMED, False),
        ("08613812345678", Kind.MALFORMED, False),
        ("12", Kind.MALFORMED, False),
    ],
)
def test_compiled_plan_kinds(number: str, kind: Kind, own: bool) -> None:
    assert PLAN.kind(number) is kind
    assert PLAN.is_own(number) is own
    n = np.array([parse_number(number)], dtype=np.int64)
    assert PLAN.kinds_of(n)[0] == kind
    assert bool(PLAN.own_many(n)[0]) is own


def test_parse_number_rejects_what_int_would_accept() -> None:
    for text in ("+861", " 8613812345678", "86_13812345678", "٣٣٣٣", "", "1" * 16):
        assert parse_number(text) == -1
    assert parse_number("8613812345678") == 8613812345678


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=100, max_value=10**15 - 1), min_size=1, max_size=50))
def test_vectorised_lookup_equals_single(numbers: list[int]) -> None:
    table = PrefixTable(
        [
            PrefixRule("86", 1),
            PrefixRule("8613", 2, 13, 13),
            PrefixRule("86138", 3, 13, 13),
            PrefixRule("1", 4, 11, 11),
            PrefixRule("9", 5, 3, 6),
        ],
        default=-7,
    )
    arr = np.array(numbers, dtype=np.int64)
    assert table.lookup_many(arr).tolist() == [table.lookup(str(n)) for n in numbers]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=6), st.data())
def test_range_prefixes_cover_exactly(width: int, data: st.DataObject) -> None:
    lo = data.draw(st.integers(min_value=10 ** (width - 1), max_value=10**width - 1))
    hi = data.draw(st.integers(min_value=lo, max_value=10**width - 1))
    prefixes = range_prefixes(str(lo), str(hi))
    table = PrefixTable([PrefixRule(p, 1, width, width) for p in prefixes], default=0)
    probe = np.arange(10 ** (width - 1), 10**width, dtype=np.int64)
    if probe.size > 20000:
        probe = np.unique(np.concatenate([probe[::97], [lo - 1, lo, hi, hi + 1]]))
    inside = (probe >= lo) & (probe <= hi)
    assert (table.lookup_many(probe) == 1).tolist() == inside.tolist()


def test_plan_from_project_rows_keeps_kind_and_operator() -> None:
    rows = [
        PlanRow("86138", 13, NumberKind.MOBILE, Operator.CHINA_MOBILE),
        PlanRow("861380000", 13, NumberKind.MOBILE, Operator.CHINA_MOBILE, province="Beijing"),
        PlanRow("86130", 13, NumberKind.MOBILE, Operator.CHINA_UNICOM),
        PlanRow("8625", 12, NumberKind.FIXED),
        PlanRow("852", 11, NumberKind.INTERNATIONAL),
    ]
    tuples = plan_tuples(rows, Operator.CHINA_MOBILE)
    assert len(tuples) == 4  # the Beijing row says nothing new for screening
    plan = plan_from_tuples(tuples)
    assert plan.kind("8613800001234") is Kind.MOBILE and plan.is_own("8613800001234")
    assert plan.kind("8613012345678") is Kind.MOBILE and not plan.is_own("8613012345678")
    assert plan.kind("8614012345678") is Kind.UNALLOCATED
    assert plan.kind("85291234567") is Kind.INTERNATIONAL


def test_parse_numbers_fast_and_slow_paths_agree() -> None:
    from telshield.screening.numbering import parse_numbers

    good = ["8613812345678", "85291234567", "8695588"]
    assert parse_numbers(good).tolist() == [parse_number(t) for t in good]
    mixed = [*good, "+8613812345678", "0123", "86\n13", "٣٣٣", ""]
    assert parse_numbers(mixed).tolist() == [parse_number(t) for t in mixed]
    assert parse_numbers(mixed)[3:].tolist() == [-1] * 5
    assert parse_numbers(["861\n138", "8613812345678"]).tolist() == [-1, 8613812345678]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 10**16).map(str),
                          st.text(alphabet="0123456789 +-\t\n٣e", max_size=17)),
                min_size=1, max_size=30))
def test_parse_numbers_equals_parse_number(texts: list[str]) -> None:
    from telshield.screening.numbering import parse_numbers

    assert parse_numbers(texts).tolist() == [parse_number(t) for t in texts]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 17).flatmap(lambda w: st.lists(
    st.one_of(st.integers(10 ** (w - 1), 10**w - 1).map(str),
              st.text(alphabet="0123456789\n +٣:/", min_size=w, max_size=w)),
    min_size=1, max_size=30)))
def test_parse_numbers_of_one_length_equals_parse_number(texts: list[str]) -> None:
    """Texts of one length (the usual batch) take the fixed-width path when the first one's
    length is that of all: the same numbers as one by one."""
    from telshield.screening.numbering import parse_numbers

    assert parse_numbers(texts).tolist() == [parse_number(t) for t in texts]


def test_parse_numbers_fixed_width_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many numbers of one length are read a chunk at a time: the same numbers."""
    from telshield.screening import numbering

    texts = [str(8613800000000 + 7919 * k) for k in range(50)]
    monkeypatch.setattr(numbering, "_CHUNK", 7)
    assert numbering.parse_numbers(texts).tolist() == [int(t) for t in texts]


def test_parse_numbers_fixed_width_edges() -> None:
    from telshield.screening.numbering import parse_numbers

    cases = [
        ["8613812345678", "8613812345679"],
        ["999999999999999", "100000000000000"],  # 15 digits, the largest and smallest
        ["100", "999"],
        ["123\n45", "1234567"],  # a newline where a separator would be
        ["12\n", "123"],
        ["0123", "1234"], ["1234", "12/4"], ["1234", "12:4"],
        ["1234567890123456", "1234567890123456"],  # 16 digits: too long
    ]
    for texts in cases:
        assert parse_numbers(texts).tolist() == [parse_number(t) for t in texts], texts


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["86", "861", "8613", "86138", "8610", "862", "864",
                                           "8695", "852", "1", "9"]),
                          st.integers(0, 12)), min_size=1, max_size=40), st.data())
def test_codes_of_equals_classify(heads: list[tuple[str, int]], data: st.DataObject) -> None:
    """Kind | OWN for arrays (one binary search over interval starts) = one number's."""
    texts = [h + "".join(data.draw(st.text("0123456789", min_size=k, max_size=k)))
             for h, k in heads]
    texts = [t for t in texts if 3 <= len(t) <= 15]
    numbers = np.array([int(t) for t in texts], dtype=np.int64)
    assert PLAN.codes_of(numbers).tolist() == [PLAN.classify(t) for t in texts]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=18), st.from_regex(r"[0-9]{1,17}", fullmatch=True)))
def test_the_law_inlines_the_canonical_rule(text: str) -> None:
    # The single-call path parses the caller with the law's inlined copy of parse_number: it
    # must answer as parse_number (and so as domain.numbers.is_canonical) does.
    from telshield.domain.numbers import is_canonical
    from telshield.screening.law import _PARSE

    inlined = eval(_PARSE.format("text"), {}, {"text": text})
    assert inlined == parse_number(text)
    assert (inlined > 0) is is_canonical(text)
