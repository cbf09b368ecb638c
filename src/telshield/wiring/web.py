"""Composition of the web pages: the session signing key and the overview's reader."""

from __future__ import annotations

import hashlib
import hmac

from telshield.detect.features import Window
from telshield.detect.inbound import detection_feature_names
from telshield.detect.rules import RuleSet
from telshield.services.countyheat import FraudCallsByCell
from telshield.services.dens import DenService
from telshield.services.gangs import GangService
from telshield.services.hotspots import HotspotService
from telshield.services.lakeread import FeedReader
from telshield.services.overview import OverviewService
from telshield.services.police import PoliceService
from telshield.services.registrations import RegistrationService
from telshield.services.regrisk import RiskRanking
from telshield.services.rules import last_backtests, load_rules
from telshield.services.trace import TraceService
from telshield.settings import Settings
from telshield.web.areas import Areas
from telshield.web.insight import Insight, Thresholds
from telshield.wiring.disposal import Disposal

OVERVIEW_CALLS_MAX_AGE_S = 60.0


def session_key(settings: Settings) -> str:
    """The key web session cookies are signed with, derived from the installation secret (a
    new secret ends every session; the secret itself never signs anything directly)."""
    secret = settings.secret.get_secret_value().encode()
    return hmac.new(secret, b"telshield web session v1", hashlib.sha256).hexdigest()


def overview(settings: Settings, d: Disposal) -> OverviewService:
    """The overview's figures over the disposal services' store and clock, the decision log
    and the numbering plan (``wiring.figures``); the screened calls are read at most once a
    minute (``OVERVIEW_CALLS_MAX_AGE_S``), in the background once first read, and so are the
    trend's closed days; the period counts and today's trend on every view."""
    from telshield.wiring.figures import figures

    return OverviewService(d.store, d.cases.clock,
                           figures(settings, d.store, d.cases.clock,
                                   max_age_s=OVERVIEW_CALLS_MAX_AGE_S, background=True),
                           trend_max_age_s=OVERVIEW_CALLS_MAX_AGE_S)


def fraud_calls(settings: Settings, d: Disposal) -> FraudCallsByCell:
    """Fraud calls per cell over the settings' lake (its own reader: the pages' threads do
    not share the other services' connections), for the map's county heat layer."""
    reader = FeedReader(settings.lake_dir)
    return FraudCallsByCell(d.store, lambda: reader, days=7)


def areas(d: Disposal, dens: DenService, gangs: GangService, police: PoliceService,
          hotspots: HotspotService | None = None,
          heat: FraudCallsByCell | None = None) -> Areas:
    """The area pages' services: the API's den and gang readers given the disposal services'
    cases service, so the pages' bulk disposal is the CLI's (one action, audited)."""
    return Areas(
        dens=DenService(dens.store, dens.clock, dens.reader, dens.profile, dens.lookback_hours,
                        d.cases),
        gangs=GangService(gangs.store, gangs.clock, gangs.reader, gangs.rule, gangs.params,
                          d.cases),
        police=police, hotspots=hotspots, heat=heat)


def insight(settings: Settings, d: Disposal, trace: TraceService,
            registrations: RegistrationService, ranking: RiskRanking) -> Insight:
    """The trace, rules and registration pages' services: the API's trace and registration
    services, the configured rules file (read on each view: an edit shows at once) and the
    stored backtests."""
    det = settings.detect

    def rules() -> RuleSet:
        windows = [Window.parse(w) for w in det.windows]
        return load_rules(det.rules_file, detection_feature_names(windows))

    return Insight(trace=trace, registrations=registrations, ranking=ranking, rules=rules,
                   backtests=lambda versions: last_backtests(d.store, versions),
                   thresholds=Thresholds(det.watch, det.verify, det.suspend))
