"""The den laws: confidence weighs signals (a missing positive-only signal counts neither way),
den references round-trip, and a den profile refuses bad keys and values by name."""

from __future__ import annotations

import pytest

from telshield.domain.dens import DenProfile, confidence, den_ref, parse_den_ref, parse_profile
from telshield.domain.errors import InvalidInput

W = {"device": 0.3, "parallel": 0.2, "relay": 0.5}


@pytest.mark.parametrize(("signals", "expected"), [
    ({"device": 1.0, "parallel": 1.0, "relay": 1.0}, 1.0),
    ({"device": 1.0, "parallel": 0.0}, 0.6),  # no relay key: out of the sum
    ({"device": 1.0, "parallel": 0.0, "relay": 0.0}, 0.3),
    ({"device": 2.0, "parallel": -1.0}, 0.6),  # clipped to [0, 1]
])
def test_confidence(signals: dict[str, float], expected: float) -> None:
    assert confidence(signals, W) == pytest.approx(expected)


def test_den_ref_round_trip() -> None:
    assert den_ref(12) == "DEN-000012"
    assert parse_den_ref("DEN-000012") == parse_den_ref(" den-12 ") == parse_den_ref("12") == 12
    with pytest.raises(InvalidInput, match="telshield dens list"):
        parse_den_ref("GANG-1")


def test_profile_parsing() -> None:
    p = parse_profile({"den": {"min_sims": 6, "threshold": 0.7, "device_kinds": ["goip"],
                               "weights": {"device": 1}}}, source="x.toml")
    assert p == DenProfile(min_sims=6, threshold=0.7, device_kinds=("goip",),
                           weights={"device": 1.0})
    p = parse_profile({"den": {"max_sim_age_days": 0, "min_calls_per_hour": 2}}, source="x")
    assert (p.max_sim_age_days, p.min_calls_per_hour) == (0, 2.0)
    for bad, msg in [({"min_sim": 4}, "unknown key 'min_sim'"),
                     ({"max_sim_age_days": 1.5}, "max_sim_age_days must be a whole number"),
                     ({"min_calls_per_hour": -1}, "min_calls_per_hour must be a number"),
                     ({"min_sims": -1}, "min_sims must be a whole number"),
                     ({"threshold": "high"}, "threshold must be a number"),
                     ({"device_kinds": "goip"}, "device_kinds must be a list"),
                     ({"weights": {"device": "a"}}, "weights must map")]:
        with pytest.raises(InvalidInput, match=msg):
            parse_profile({"den": bad}, source="x.toml")
