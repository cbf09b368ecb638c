"""Prometheus metrics read from the engine's plain counters at scrape time, so that counting a
decision costs a dict increment rather than a metric update."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from telshield.screening.engine import Engine
from telshield.screening.follow import SnapshotFollower
from telshield.screening.passon import PassOn
from telshield.screening.sip import SipStats


class ScreeningCollector(Collector):
    """Decisions by outcome and reason, the snapshot (version, age, size), fail-open
    decisions, snapshot reloads and their failures, an HTTP face open without a token, and
    the SIP counters."""

    def __init__(self, engine: Engine, sip: SipStats | None = None,
                 follower: SnapshotFollower | None = None, open_face: bool = False,
                 passon: PassOn | None = None) -> None:
        self.passon = passon
        self.engine = engine
        self.sip = sip
        self.follower = follower
        self.open_face = open_face

    def collect(self) -> Iterator[Metric]:
        """Yield the current values."""
        e = self.engine
        by_outcome = CounterMetricFamily(
            "telshield_screening_decisions", "Call decisions by outcome", labels=["outcome"]
        )
        for outcome, n in e.outcomes.items():
            by_outcome.add_metric([outcome.value], n)
        yield by_outcome
        by_reason = CounterMetricFamily(
            "telshield_screening_reasons", "Reason codes given with decisions", labels=["reason"]
        )
        for reason, n in sorted(e.reasons.items()):
            by_reason.add_metric([reason], n)
        yield by_reason
        yield CounterMetricFamily(
            "telshield_screening_fail_open",
            "Calls allowed because the snapshot was missing or stale",
            value=e.fail_open_count,
        )
        age = e.snapshot_age()
        yield GaugeMetricFamily(
            "telshield_screening_snapshot_age_seconds",
            "Age of the snapshot's data (-1 when there is no snapshot)",
            value=-1.0 if age is None else age,
        )
        snap = e.snapshot
        info = InfoMetricFamily("telshield_screening_snapshot",
                                "The snapshot decisions read now (empty version: none)")
        info.add_metric([], {"version": snap.version if snap is not None else ""})
        yield info
        yield GaugeMetricFamily(
            "telshield_screening_snapshot_numbers",
            "Numbers held by the snapshot",
            value=0 if snap is None else len(snap),
        )
        if self.follower is not None:
            yield CounterMetricFamily(
                "telshield_screening_reloads", "Published snapshot versions swapped in",
                value=self.follower.reloads)
            yield CounterMetricFamily(
                "telshield_screening_reload_failures",
                "Published snapshot versions that could not be read or built",
                value=self.follower.failures)
            yield CounterMetricFamily(
                "telshield_screening_location_updates",
                "Location updates read from the journal beside the snapshot",
                value=self.follower.location_updates)
            yield CounterMetricFamily(
                "telshield_screening_location_update_bad_lines",
                "Journal lines that were not 'epoch,msisdn,attach|detach' (skipped)",
                value=self.follower.journal.bad_lines)
        yield GaugeMetricFamily(
            "telshield_screening_roaming_live",
            "Subscribers whose location changed since the snapshot (read before it)",
            value=len(e.roaming))
        yield GaugeMetricFamily(
            "telshield_screening_http_open",
            "1 when the HTTP face answers without a token (started open on purpose)",
            value=1 if self.open_face else 0)
        yield GaugeMetricFamily(
            "telshield_screening_velocity_callers",
            "Callers tracked by velocity",
            value=len(e.velocity),
        )
        if self.passon is not None:
            p = self.passon
            yield CounterMetricFamily(
                "telshield_screening_passed_on", "Calls passed to the worker owning their caller",
                value=p.passed)
            yield CounterMetricFamily(
                "telshield_screening_passed_in", "Calls decided for other workers",
                value=p.passed_in)
            yield CounterMetricFamily(
                "telshield_screening_pass_on_failed",
                "Calls decided where they landed because their owner did not answer",
                value=p.failed)
        if self.sip is not None:
            s = self.sip
            yield CounterMetricFamily(
                "telshield_sip_malformed", "Malformed SIP messages (answered 400 or dropped)",
                value=s.malformed,
            )
            yield CounterMetricFamily(
                "telshield_sip_dropped", "SIP messages dropped unanswered", value=s.dropped
            )
            yield CounterMetricFamily(
                "telshield_sip_not_peers",
                "Datagrams from addresses that are not configured peers (dropped unanswered)",
                value=s.not_peers,
            )
            yield CounterMetricFamily(
                "telshield_sip_forwarded",
                "INVITEs passed to the worker that owns their caller (several workers)",
                value=s.forwarded)
            yield CounterMetricFamily(
                "telshield_sip_passed_in", "INVITEs other workers passed to this one",
                value=s.passed_in)
            yield CounterMetricFamily(
                "telshield_sip_forward_failed",
                "INVITEs decided where they landed because their owner could not take them",
                value=s.forward_failed)
            responses = CounterMetricFamily(
                "telshield_sip_responses", "SIP responses sent by code", labels=["code"]
            )
            for code, n in sorted(s.responses.items()):
                responses.add_metric([str(code)], n)
            yield responses


def registry_for(engine: Engine, sip: SipStats | None = None,
                 follower: SnapshotFollower | None = None,
                 open_face: bool = False, passon: PassOn | None = None) -> CollectorRegistry:
    """A registry holding only the screening collector (not the process-global default)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScreeningCollector(engine, sip, follower, open_face, passon))
    return registry


def render(engine: Engine, sip: SipStats | None = None,
           follower: SnapshotFollower | None = None, open_face: bool = False,
           passon: PassOn | None = None) -> bytes:
    """The metrics in Prometheus text format."""
    return generate_latest(registry_for(engine, sip, follower, open_face, passon))
