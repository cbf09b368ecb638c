"""Property-based fuzzing over the OpenAPI spec (schemathesis): no input makes a server error."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from telshield.api.app import create_app
from telshield.domain.alerts import Alert, Reason, Tier
from telshield.services.store import FixedClock
from telshield.settings import ApiSettings, Settings
from telshield.wiring import disposal

KEY: dict[str, str] = {}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))  # more: python -m bench fuzz


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings_ = Settings(data_dir=Path(tmp_path_factory.mktemp("fuzz")),
                         api=ApiSettings(metrics_port=0))
    d = disposal(settings_, clock=FixedClock(datetime(2026, 3, 1, 9)))
    KEY["admin"] = d.users.add("root", "admin", actor="test")[1]
    at = datetime(2026, 3, 1, 8)
    d.cases.intake([Alert(f"86138000000{i:02d}", 0.8, Tier.VERIFY, (Reason("r", "r"),), at, at)
                    for i in range(5)])
    d.lists.add("number", "8613800000001", "black", source="manual", reason="r", actor="t")
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(settings_, disposal=d))


def test_no_server_errors(api_schema: Any) -> None:
    # schemathesis' own pytest plugin does not run under this pytest; drive hypothesis directly.
    headers = {"Authorization": f"Bearer {KEY['admin']}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        fuzz()
