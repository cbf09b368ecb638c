"""Fixtures shared by the service tests of more than one module."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.services.feeds import write_feed
from tests.services.ganglake import Lake, write


@pytest.fixture
def trace_lake(tmp_path: Path) -> tuple[Path, Lake]:
    """The trace tests' lake: the gang lake plus the calls of ``test_trace._calls`` (den
    ports, a passer-by, twins sharing victims)."""
    from tests.services.test_trace import _calls

    root = tmp_path / "lake"
    lk = write(root)
    write_feed(root, "calls", _calls())
    return root, lk
