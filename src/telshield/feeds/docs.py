"""docs/feeds.md, rendered from the schemas so that the document cannot drift from the code."""

from __future__ import annotations

from telshield.feeds.validate import REASONS
from telshield.reference.schemas import FEEDS, Check, Column, Feed

INTRO = """# Feeds

Everything a detector reads arrives as one of ten **feeds**, each with a fixed schema. This page
is generated from `src/telshield/reference/schemas.py` (reference data: the simulator writes
the same schemas) by `telshield feeds describe --markdown`; a test fails when the two disagree.

Files are CSV (UTF-8, a header line naming the columns in any order, `,` separated, an empty field
is null, line breaks only inside quoted fields) or Parquet (the same column names; values may be
text or already typed). Extra columns are ignored. Timestamps are China Standard Time (UTC+8)
without a zone: `YYYY-MM-DD HH:MM:SS`; one written with an offset (`+00:00`, `Z`, `-0300`) is
converted to China Standard Time, never stored with its offset dropped. An integer field takes whole
numbers only (`5.5`, `1e3`, `0x10`, `1_000` are quarantined, never rounded or read). A text field
with a control character (NUL, BEL, ...) or longer than `ingest.max_field_bytes` (128 KiB) is
quarantined; a CSV line longer than `ingest.max_line_bytes` (1 MiB) is quarantined unread, its first
200 bytes kept, and the rest of the file is read on. In a folder, a link to a file outside it is
skipped and reported. Re-ingesting a bad file adds no quarantine row. Numbers are E.164 digits
without `+` (`8613812345678`; a leading `+` is accepted and removed). Identities and addresses
arrive as HMAC-SHA256 hex digests made with the installation's secret; raw ID numbers never enter
the platform.

Ingest them with `telshield ingest FEED PATH...` (files or folders) or `telshield ingest all DIR`
(every `DIR/<feed>/` folder). Rows land in the lake under `<data_dir>/lake/<feed>/day=YYYY-MM-DD/`
(partitioned by the day of the feed's time column; `cells` and `device_intel` are not
partitioned). A row whose key is already in the lake is skipped, so re-ingesting a file, or an
overlapping one, adds nothing.

## Validation and quarantine

Each row is checked in one vectorised pass. A row with any problem goes, whole, to
`<data_dir>/quarantine/<feed>/<ingest id>.parquet` with the source file, its line (the header is
line 1), the first problem's reason and field, every problem found, and the original values as
JSON. `telshield lake quarantine --feed F [--reason R]` shows them; the ingest prints counts per
reason. The command exits non-zero only when a file cannot be read at all (missing, not CSV or
Parquet, a header that lacks a column): then the message names the file and what is wrong.

| reason | meaning |
|---|---|
"""


def _check_text(c: Column) -> str:
    parts = [c.check.value]
    if c.check == Check.ENUM:
        parts = ["one of " + ", ".join(f"`{v}`" for v in c.values)]
    if c.lo is not None or c.hi is not None:
        parts.append(f"{c.lo:g} to {c.hi:g}" if c.lo is not None and c.hi is not None else "")
    if c.check == Check.TIMESTAMP:
        parts.append("may lie in the future" if c.future_ok else "from 2000 to one day ahead")
    return "; ".join(p for p in parts if p)


def render_feed(feed: Feed) -> str:
    """One feed's section: columns, checks, key, partitioning and an example row."""
    lines = [f"## `{feed.name}`", "", feed.doc, ""]
    lines += ["| column | type | required | check | meaning |", "|---|---|---|---|---|"]
    for c in feed.columns:
        lines.append(
            f"| `{c.name}` | {c.type} | {'yes' if c.required else 'no'} | {_check_text(c)} "
            f"| {c.doc} |"
        )
    part = f"the day of `{feed.time_column}`" if feed.time_column else "none (a dimension)"
    lines += [
        "",
        f"Key (a repeat within one ingest is `duplicate_key`): {', '.join(feed.key)}. "
        f"Partitioned by: {part}.",
        "",
        "Example (CSV):",
        "",
        "```",
        ",".join(feed.column_names),
        ",".join(feed.example.get(n, "") for n in feed.column_names),
        "```",
        "",
    ]
    return "\n".join(lines)


def render() -> str:
    """The whole of docs/feeds.md."""
    reasons = "\n".join(f"| `{k}` | {v} |" for k, v in REASONS.items())
    return INTRO + reasons + "\n\n" + "\n".join(render_feed(f) for f in FEEDS.values())
