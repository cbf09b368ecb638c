"""The simulator's configuration: the packaged ``default.toml`` overlaid with a user's file."""

from __future__ import annotations

import tomllib
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from telshield.domain.errors import InvalidInput

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorldSection(_Strict):
    """Size of the province and its surroundings."""

    subscribers: int = Field(ge=50, description="at least 50: smaller is not a province")
    days: int = Field(gt=0, le=366)
    start: str
    subscribers_per_cell: int = Field(gt=0)
    offnet_per_subscriber: float = Field(ge=0)
    offnet_other_province: float = Field(ge=0, le=1)
    offnet_foreign: float = Field(ge=0, le=1)
    visitors_per_subscriber: float = Field(ge=0)
    restricted_share: float = Field(ge=0, le=1)

    @field_validator("start")
    @classmethod
    def _start_format(cls, v: str) -> str:
        try:
            datetime.strptime(v, TIME_FORMAT)
        except ValueError:
            raise ValueError(f"start must look like 2026-11-01 00:00:00, got {v!r}") from None
        return v


class SocialSection(_Strict):
    """Normal life: contacts, call rates, durations, SIM ages."""

    degree_median: float = Field(gt=0)
    degree_sigma: float = Field(ge=0)
    degree_max: int = Field(gt=0)
    local_share: float = Field(ge=0, le=1)
    calls_per_day: float = Field(ge=0)
    activity_sigma: float = Field(ge=0)
    circle_size: float = Field(ge=1)
    concentration: float = Field(ge=1)
    outside_circle: float = Field(ge=0, le=1)
    sms_per_day: float = Field(ge=0)
    answer_rate: float = Field(ge=0, le=1)
    duration_median_s: float = Field(gt=0)
    duration_sigma: float = Field(ge=0)
    sim_age_median_days: float = Field(gt=0)
    sim_age_sigma: float = Field(ge=0)
    phone_change_per_day: float = Field(ge=0, le=1)
    workplace_share: float = Field(ge=0, le=1)
    other_cells: int = Field(ge=1, le=8)
    other_cells_wide: float = Field(ge=0, le=1)
    echannel_share: float = Field(ge=0, le=1)


class WorkRole(_Strict):
    """An ordinary subscriber who calls many strangers for a living (a hard negative)."""

    share: float = Field(ge=0, le=1)
    stranger_calls_per_day: float = Field(ge=0)
    incoming_strangers_per_day: float = Field(ge=0)
    stranger_sms_per_day: float = Field(ge=0)
    answer_rate: float = Field(ge=0, le=1)
    duration_median_s: float = Field(gt=0)
    duration_sigma: float = Field(ge=0)
    callback_rate: float = Field(ge=0, le=1)
    hours: Literal["day", "work", "evening", "all"]
    weekdays_only: bool
    roam_cells: int = Field(ge=0, le=12)
    holder_kind: Literal["individual", "enterprise"]
    personal_life: bool
    young_sim_share: float = Field(ge=0, le=1)
    registered_share: float = Field(1.0, ge=0, le=1)  # SIMs registered as holder_kind says


class ShareRole(_Strict):
    """An ordinary subscriber with one twist (travels, changes phone, new SIM)."""

    share: float = Field(ge=0, le=1)


class RolesSection(_Strict):
    """The hard negatives and their shares of the subscribers."""

    courier: WorkRole
    sales: WorkRole
    customer_service: WorkRole
    taxi: WorkRole
    real_estate: WorkRole
    promoter: WorkRole
    traveller: ShareRole
    phone_changer: ShareRole
    new_sim: ShareRole

    def work_roles(self) -> dict[str, WorkRole]:
        """The roles that call strangers, by name."""
        return {
            "courier": self.courier,
            "sales": self.sales,
            "customer_service": self.customer_service,
            "taxi": self.taxi,
            "real_estate": self.real_estate,
            "promoter": self.promoter,
        }


class FraudSimSection(_Strict):
    """Crews burning trafficked SIMs one after another."""

    crews_per_100k: float = Field(ge=0)
    lifetime_days_median: float = Field(gt=0)
    lifetime_days_sigma: float = Field(ge=0)
    idle_days_median: float = Field(gt=0)
    calls_per_day_median: float = Field(gt=0)
    calls_per_day_sigma: float = Field(ge=0)
    answer_rate: float = Field(ge=0, le=1)
    duration_median_s: float = Field(gt=0)
    long_call_share: float = Field(ge=0, le=1)
    long_duration_median_s: float = Field(gt=0)
    callback_rate: float = Field(ge=0, le=1)
    sms_per_day: float = Field(ge=0)
    two_cells_share: float = Field(ge=0, le=1)
    mobile_crew_share: float = Field(ge=0, le=1)
    from_gang_share: float = Field(ge=0, le=1)
    new_phone_share: float = Field(ge=0, le=1)
    office_hours_share: float = Field(ge=0, le=1)
    cover_calls_per_day: float = Field(ge=0)
    relocate_share: float = Field(ge=0, le=1)
    enterprise_share: float = Field(ge=0, le=1)


class DensSection(_Strict):
    """GOIP and audio-cable dens."""

    per_100k: float = Field(ge=0)
    audio_cable_share: float = Field(ge=0, le=1)
    rotating_imei_share: float = Field(ge=0, le=1)
    forged_tac_share: float = Field(ge=0, le=1)
    ports_min: int = Field(ge=1)
    ports_max: int = Field(ge=1)
    audio_cable_ports_min: int = Field(ge=1)
    audio_cable_ports_max: int = Field(ge=1)
    swap_days_min: int = Field(ge=1)
    swap_days_max: int = Field(ge=1)
    our_card_share: float = Field(ge=0, le=1)
    calls_per_port_day: float = Field(gt=0)
    two_cells_share: float = Field(ge=0, le=1)
    answer_rate: float = Field(ge=0, le=1)
    duration_median_s: float = Field(gt=0)
    long_call_share: float = Field(ge=0, le=1)
    long_duration_median_s: float = Field(gt=0)


class GangsSection(_Strict):
    """Card-trafficking gangs."""

    per_100k: float = Field(ge=0)
    openers_min: int = Field(ge=1)
    openers_max: int = Field(ge=1)
    cards_per_opener_min: int = Field(ge=1)
    cards_per_opener_max: int = Field(ge=1)
    channels_min: int = Field(ge=1)
    channels_max: int = Field(ge=1)
    staff_per_channel_max: int = Field(ge=1)
    echannel_share: float = Field(ge=0, le=1)
    addresses_max: int = Field(ge=1)
    devices_max: int = Field(ge=1)
    opening_spread_days: int = Field(ge=1)
    to_fraud_sim: float = Field(ge=0, le=1)


class SpoofingSection(_Strict):
    """Spoofed caller IDs."""

    calls_per_100k_per_day: float = Field(ge=0)
    presented_numbers_per_100k: float = Field(ge=0)
    international_share: float = Field(ge=0, le=1)
    mobile_share: float = Field(ge=0, le=1)
    landline_share: float = Field(ge=0, le=1)
    real_subscriber_share: float = Field(ge=0, le=1)
    answer_rate: float = Field(ge=0, le=1)
    duration_median_s: float = Field(gt=0)
    # Over interconnect: the share of presented mobiles whose calls come in on the trunk of the
    # carrier serving the number (added later: the default here for configs written before it).
    entry_matches_share: float = Field(default=0.3, ge=0, le=1)


class OffnetFraudSection(_Strict):
    """Fraud callers on other operators' networks."""

    callers_per_100k: float = Field(ge=0)
    lifetime_days_median: float = Field(gt=0)
    calls_per_day_median: float = Field(gt=0)
    answer_rate: float = Field(ge=0, le=1)
    duration_median_s: float = Field(gt=0)
    long_call_share: float = Field(ge=0, le=1)


class PortabilitySection(_Strict):
    """Mobile number portability (携号转网): other networks' numbers served by another carrier
    than the one their segment is allocated to (added later: the default here is the packaged
    one, for configs written before it)."""

    ported_share: float = Field(default=0.03, ge=0, le=1)


class SanctionsSection(_Strict):
    """Sanctioned persons and their attempts to register again."""

    persons_per_100k: float = Field(ge=0)
    reregister_share: float = Field(ge=0, le=1)


class RegistrationsSection(_Strict):
    """SIM applications (the ``registrations`` feed) and their video statement transcripts.

    The recognition error rates are a prior from published Mandarin ASR figures (docs/world.md,
    "Registrations and transcripts"), not fitted to anything.
    """

    abandon_share: float = Field(ge=0, le=1)
    sanctioned_try_share: float = Field(ge=0, le=1)
    mule_over_limit_share: float = Field(ge=0, le=1)
    staff_alone_share: float = Field(ge=0, le=1)
    substitution: float = Field(ge=0, le=0.5)
    deletion: float = Field(ge=0, le=0.5)
    insertion: float = Field(ge=0, le=0.5)
    digit_error: float = Field(ge=0, le=0.5)
    filler_share: float = Field(ge=0, le=1)
    digits_as_characters: float = Field(ge=0, le=1)
    yao_share: float = Field(ge=0, le=1)
    fullwidth_share: float = Field(ge=0, le=1)
    punctuation_share: float = Field(ge=0, le=1)
    spaces_share: float = Field(ge=0, le=1)
    mismatch_share: float = Field(ge=0, le=1)
    mule_mismatch_share: float = Field(ge=0, le=1)
    staff_alone_mismatch_share: float = Field(ge=0, le=1)
    staff_alone_replay_share: float = Field(ge=0, le=1)
    wrong_digits: float = Field(ge=0)
    other_text: float = Field(ge=0)
    partial: float = Field(ge=0)
    silence: float = Field(ge=0)


class CluesSection(_Strict):
    """Police clues: late, partial labels."""

    share: float = Field(ge=0, le=1)
    delay_hours_median: float = Field(gt=0)
    delay_hours_sigma: float = Field(ge=0)


class OfficesSection(_Strict):
    """Telemarketing and collection offices: a company's old SIMs calling from one office cell."""

    telemarketing_per_100k: float = Field(ge=0)
    collection_per_100k: float = Field(ge=0)
    lines_min: int = Field(ge=1)
    lines_max: int = Field(ge=1)
    calls_per_line_day: float = Field(gt=0)
    calls_sigma: float = Field(ge=0)
    answer_rate: float = Field(ge=0, le=1)
    telemarketing_duration_median_s: float = Field(gt=0)
    collection_duration_median_s: float = Field(gt=0)
    callback_rate: float = Field(ge=0, le=1)
    collection_repeat_share: float = Field(ge=0, le=1)
    local_share: float = Field(ge=0, le=1)
    sim_age_median_days: float = Field(gt=0)
    registered_share: float = Field(ge=0, le=1)
    modem_share: float = Field(ge=0, le=1)
    deskphone_share: float = Field(ge=0, le=1)
    deskphone_listed_share: float = Field(ge=0, le=1)


class EnterpriseSection(_Strict):
    """Companies' work lines: colleagues, clients and some strangers, in office hours."""

    share: float = Field(ge=0, le=1)
    lines_min: int = Field(ge=1)
    lines_max: int = Field(ge=1)
    registered_share: float = Field(ge=0, le=1)
    stranger_calls_per_day: float = Field(ge=0)
    incoming_strangers_per_day: float = Field(ge=0)
    answer_rate: float = Field(ge=0, le=1)
    callback_rate: float = Field(ge=0, le=1)
    duration_median_s: float = Field(gt=0)


class IotSection(_Strict):
    """Machines with a SIM (alarm panels, lifts, POS): a modem that reports to one number."""

    share: float = Field(ge=0, le=1)
    devices_per_site_max: int = Field(ge=1)
    calls_per_day: float = Field(ge=0)
    sms_per_day: float = Field(ge=0)
    registered_share: float = Field(ge=0, le=1)


class RelaySection(_Strict):
    """Ride-hailing and delivery relay (privacy) numbers bridging riders and customers."""

    per_100k: float = Field(ge=0)
    calls_per_day: float = Field(ge=0)
    incoming_per_day: float = Field(ge=0)
    answer_rate: float = Field(ge=0, le=1)
    duration_median_s: float = Field(gt=0)
    callback_rate: float = Field(ge=0, le=1)
    modem_share: float = Field(ge=0, le=1)
    registered_share: float = Field(ge=0, le=1)


class OffnetWorkersSection(_Strict):
    """Other operators' couriers and sales lines calling our subscribers (honest)."""

    couriers_per_100k: float = Field(ge=0)
    sales_per_100k: float = Field(ge=0)
    courier_calls_per_day: float = Field(ge=0)
    sales_calls_per_day: float = Field(ge=0)
    courier_answer_rate: float = Field(ge=0, le=1)
    sales_answer_rate: float = Field(ge=0, le=1)
    callback_rate: float = Field(ge=0, le=1)


class AbroadSection(_Strict):
    """Our subscribers travelling abroad (location updates in the roaming feed)."""

    share: float = Field(ge=0, le=1)
    days_min: int = Field(ge=1)
    days_max: int = Field(ge=1)
    calls_home_share: float = Field(ge=0, le=1)
    second_country_share: float = Field(ge=0, le=1)


class ReverifySection(_Strict):
    """Whether the owner of an honest number completes a real-name re-verification, and when."""

    individual_share: float = Field(ge=0, le=1)
    enterprise_share: float = Field(ge=0, le=1)
    iot_share: float = Field(ge=0, le=1)
    delay_hours_median: float = Field(gt=0)
    delay_hours_sigma: float = Field(ge=0)


class RandomiseSection(_Strict):
    """Draw every behavioural parameter from the prior (``world/prior.toml``) per seed."""

    enabled: bool = False
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)


class WorldConfig(_Strict):
    """Everything the simulator needs besides the seed."""

    world: WorldSection
    social: SocialSection
    roles: RolesSection
    fraud_sim: FraudSimSection
    dens: DensSection
    gangs: GangsSection
    spoofing: SpoofingSection
    offnet_fraud: OffnetFraudSection
    sanctions: SanctionsSection
    registrations: RegistrationsSection
    clues: CluesSection
    offices: OfficesSection
    enterprise: EnterpriseSection
    iot: IotSection
    relay: RelaySection
    offnet_workers: OffnetWorkersSection
    abroad: AbroadSection
    reverify: ReverifySection
    portability: PortabilitySection = Field(default_factory=PortabilitySection)
    randomise: RandomiseSection = Field(default_factory=RandomiseSection)

    @property
    def start(self) -> datetime:
        """The first simulated instant (China Standard Time, naive)."""
        return datetime.strptime(self.world.start, TIME_FORMAT)

    def per_100k(self, rate: float) -> int:
        """A per-100k-subscribers rate as a count for this province (at least 1 if rate > 0)."""
        n = round(rate * self.world.subscribers / 100_000)
        return max(n, 1) if rate > 0 else 0


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def default_dict() -> dict[str, Any]:
    """The packaged defaults as a plain dict."""
    text = resources.files("telshield.world").joinpath("default.toml").read_text("utf-8")
    return tomllib.loads(text)


def load_config(path: Path | None = None, **overrides: Any) -> WorldConfig:
    """The defaults, overlaid with the TOML file at ``path`` and ``[world]`` overrides."""
    data = default_dict()
    if path is not None:
        try:
            data = _merge(data, tomllib.loads(path.read_text("utf-8")))
        except FileNotFoundError:
            raise InvalidInput(
                f"config file {path} does not exist; give an existing TOML file"
            ) from None
        except tomllib.TOMLDecodeError as e:
            raise InvalidInput(f"config file {path} is not valid TOML: {e}; fix it") from None
    world = {k: v for k, v in overrides.items() if v is not None}
    data = _merge(data, {"world": world})
    try:
        return WorldConfig.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise InvalidInput(f"world config is not valid ({problems}); see docs/world.md") from None


def randomised(cfg: WorldConfig) -> WorldConfig:
    """``cfg`` with the prior turned on (as ``[randomise] enabled = true`` does)."""
    return cfg.model_copy(update={"randomise": cfg.randomise.model_copy(update={"enabled": True})})
