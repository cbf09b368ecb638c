"""Publishing a CSV feed file as messages, and matching subjects (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from telshield.domain.errors import InvalidInput
from telshield.feeds.jetstream import _matches, csv_chunks, message_id


def _file(tmp_path: Path, n: int, last_newline: bool = True) -> Path:
    p = tmp_path / "calls.csv"
    body = "h1,h2\n" + "".join(f"{i},x\n" for i in range(n))
    p.write_text(body if last_newline else body.rstrip("\n"))
    return p


def test_chunks_carry_the_header_and_every_record_once(tmp_path: Path) -> None:
    chunks = list(csv_chunks(_file(tmp_path, 10, last_newline=False), rows=4, max_bytes=1000))
    assert [c.count(b"\n") for c in chunks] == [5, 5, 3]
    assert all(c.startswith(b"h1,h2\n") for c in chunks)
    records = [line for c in chunks for line in c.splitlines()[1:]]
    assert records == [f"{i},x".encode() for i in range(10)]


def test_chunks_stay_under_the_byte_limit(tmp_path: Path) -> None:
    chunks = list(csv_chunks(_file(tmp_path, 100), rows=1000, max_bytes=60))
    assert max(len(c) for c in chunks) <= 60
    assert sum(c.count(b"\n") - 1 for c in chunks) == 100


def test_a_line_longer_than_a_message_is_refused_with_its_line(tmp_path: Path) -> None:
    p = tmp_path / "calls.csv"
    p.write_text("h1,h2\n1,x\n2," + "y" * 100 + "\n")
    with pytest.raises(InvalidInput, match=r"calls.csv, line 3"):
        list(csv_chunks(p, rows=10, max_bytes=50))


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "calls.csv"
    p.write_text("")
    with pytest.raises(InvalidInput, match="empty"):
        list(csv_chunks(p, rows=10, max_bytes=50))


def test_message_ids_follow_the_bytes() -> None:
    assert message_id(b"a") == message_id(b"a") != message_id(b"b")


@pytest.mark.parametrize(("pattern", "subject", "covered"), [
    ("feeds.calls", "feeds.calls", True),
    ("feeds.*", "feeds.calls", True),
    ("feeds.>", "feeds.calls.jiangsu", True),
    ("feeds.*", "feeds.calls.jiangsu", False),
    ("feeds.sms", "feeds.calls", False),
    ("feeds.>", "feeds", False),
])
def test_stream_subjects_cover_the_consumed_subject(pattern: str, subject: str,
                                                   covered: bool) -> None:
    assert _matches(pattern, subject) is covered
