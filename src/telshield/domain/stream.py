"""The message bus a stream of feed records arrives on, as the ingest sees it (a port).

``services.stream`` consumes through ``StreamConsumer`` only; NATS JetStream is the adapter in
``telshield.feeds.jetstream``, and a Kafka one (offsets committed after the batch) would fit
the same three calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Delivery:
    """One message as delivered: where it came from, its position and its bytes."""

    subject: str  # the subject (a Kafka adapter: the topic and partition)
    seq: int  # the stream sequence (Kafka: the offset): the same on every redelivery
    data: bytes
    delivered: int  # 1 the first time, more on a redelivery
    handle: object  # the adapter's own message, to acknowledge it


@dataclass(frozen=True)
class Pending:
    """What a consumer still has to do: messages never delivered, and delivered ones not yet
    acknowledged (a consumer that died leaves them; they come back after the ack wait)."""

    waiting: int
    unacked: int


class StreamConsumer(Protocol):
    """A durable consumer: at-least-once delivery, acknowledged by the caller."""

    def fetch(self, batch: int, max_wait_s: float) -> list[Delivery]:
        """Up to ``batch`` messages, waiting at most ``max_wait_s`` for the first; [] if none."""
        ...

    def ack(self, deliveries: list[Delivery]) -> None:
        """Acknowledge messages once their rows are committed (returns when the bus has it)."""
        ...

    def pending(self) -> Pending:
        """Messages still to deliver and delivered ones not yet acknowledged."""
        ...
