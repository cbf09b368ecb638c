"""The store's engine: unreachable databases are reported as Unavailable, with what to do."""

from __future__ import annotations

import pytest

from telshield.domain.errors import Unavailable
from telshield.store.sql import open_store


def test_unreachable_postgres_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="TELSHIELD_STORE__URL"):
        open_store("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
