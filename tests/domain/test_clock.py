"""The time rule's boundaries: feed time (naive CST), store time (naive UTC), epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telshield.domain.clock import (
    CST,
    feed_epoch,
    feed_now,
    feed_time,
    feed_to_store,
    store_epoch,
    store_now,
    store_to_feed,
)

# 2026-11-01 08:00 in China is midnight UTC: the same instant in each convention.
FEED = datetime(2026, 11, 1, 8)
STORE = datetime(2026, 11, 1, 0)
EPOCH = datetime(2026, 11, 1, tzinfo=UTC).timestamp()


def test_one_instant_in_each_convention() -> None:
    assert feed_to_store(FEED) == STORE
    assert store_to_feed(STORE) == FEED
    assert feed_epoch(FEED) == store_epoch(STORE) == EPOCH
    assert feed_time(EPOCH) == FEED


def test_a_feed_day_starts_the_evening_before_in_store_time() -> None:
    # Midnight in China (a lake partition's first moment) is 16:00 UTC the day before.
    assert feed_to_store(datetime(2026, 11, 2)) == datetime(2026, 11, 1, 16)
    assert store_to_feed(datetime(2026, 12, 31, 20)) == datetime(2027, 1, 1, 4)


def test_aware_times_are_converted_not_reinterpreted() -> None:
    tokyo = timezone(timedelta(hours=9))
    same = datetime(2026, 11, 1, 9, tzinfo=tokyo)  # the instant of FEED and STORE
    assert feed_to_store(same) == STORE
    assert store_to_feed(same) == FEED
    assert feed_epoch(same) == store_epoch(same) == EPOCH
    assert feed_to_store(FEED.replace(tzinfo=CST)) == STORE


@given(st.datetimes(min_value=datetime(1992, 1, 1), max_value=datetime(2100, 1, 1)))
def test_conversions_round_trip(at: datetime) -> None:
    assert store_to_feed(feed_to_store(at)) == at
    assert feed_epoch(at) == pytest.approx(store_epoch(feed_to_store(at)), abs=1e-6)
    assert feed_time(feed_epoch(at)) == at


def test_the_clocks_read_now_in_their_convention() -> None:
    before = datetime.now(UTC)
    feed, store = feed_now(), store_now()
    after = datetime.now(UTC)
    assert feed.tzinfo is None and store.tzinfo is None and feed.microsecond == 0
    assert before.replace(tzinfo=None, microsecond=0) <= store <= after.replace(tzinfo=None)
    assert feed_to_store(feed) <= store and store - feed_to_store(feed) < timedelta(seconds=2)
    assert feed_epoch(feed) == pytest.approx(store_epoch(store), abs=2)
