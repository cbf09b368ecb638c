"""Composition of the web pages: the session signing key and the overview's reader."""

from __future__ import annotations

import hashlib
import hmac

from telshield.services.dens import DenService
from telshield.services.gangs import GangService
from telshield.services.hotspots import HotspotService
from telshield.services.overview import OverviewService
from telshield.services.police import PoliceService
from telshield.settings import Settings
from telshield.web.areas import Areas
from telshield.wiring.disposal import Disposal


def session_key(settings: Settings) -> str:
    """The key web session cookies are signed with, derived from the installation secret (a
    new secret ends every session; the secret itself never signs anything directly)."""
    secret = settings.secret.get_secret_value().encode()
    return hmac.new(secret, b"telshield web session v1", hashlib.sha256).hexdigest()


def overview(d: Disposal) -> OverviewService:
    """The overview's figures over the disposal services' store and clock."""
    return OverviewService(d.store, d.cases.clock)


def areas(d: Disposal, dens: DenService, gangs: GangService, police: PoliceService,
          hotspots: HotspotService | None = None) -> Areas:
    """The area pages' services: the API's den and gang readers given the disposal services'
    cases service, so the pages' bulk disposal is the CLI's (one action, audited)."""
    return Areas(
        dens=DenService(dens.store, dens.clock, dens.reader, dens.profile, dens.lookback_hours,
                        d.cases),
        gangs=GangService(gangs.store, gangs.clock, gangs.reader, gangs.rule, gangs.params,
                          d.cases),
        police=police, hotspots=hotspots)
