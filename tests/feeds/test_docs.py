"""docs/feeds.md is generated from the schemas and must not drift from them."""

from __future__ import annotations

from pathlib import Path

from telshield.feeds.docs import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "feeds.md"


def test_feeds_doc_matches_the_schemas() -> None:
    assert DOC.read_text() == render(), (
        "docs/feeds.md is stale: run `telshield feeds describe --markdown > docs/feeds.md`"
    )


def test_every_feed_has_a_valid_example_row() -> None:
    from telshield.reference.schemas import FEEDS

    for feed in FEEDS.values():
        assert set(feed.example) == set(feed.column_names), feed.name
