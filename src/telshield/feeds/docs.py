"""docs/feeds.md, rendered from the schemas so that the document cannot drift from the code."""

from __future__ import annotations

from telshield.feeds.validate import REASONS
from telshield.reference.schemas import FEEDS, Check, Column, Feed

INTRO = """# Feeds

Everything a detector reads arrives as one of eleven **feeds**, each with a fixed schema. This page
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
(partitioned by the day of the feed's time column; `cells`, `device_intel` and `ported` are not
partitioned). A row whose key is already in the lake is skipped, so re-ingesting a file, or an
overlapping one, adds nothing. An ingest becomes visible all at once: every reader (detection,
the API, `lake stats`) sees a lake file written by an ingest only once that ingest's line is in
`lake/_ingests.jsonl`, so nothing ever shows some of its days and not others, neither while it
moves its files in nor after a crash between two renames (docs/security.md). Calls and SMS can
also arrive as a message stream (NATS
JetStream micro-batches of the same CSV rows, exactly once): `telshield ingest stream`, see
docs/streaming.md.

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


PROFILES = """## Feed profiles

A real export rarely matches these schemas: another operator's BSS names its columns in Chinese,
writes holder kinds as `个人`/`单位`, hashes identities with its own key into 32 hex digits and
stamps times in UTC; another province's police feed has fraud-type codes of its own. A **feed
profile** (TOML, one per source) says how such an export maps onto our feeds; ingest applies it
before validation, as a SQL projection in the same DuckDB pass (the direct COPY path and the
exact path alike, CSV and Parquet), so a file read through its profile is checked, quarantined
and committed exactly like one in our own form. Examples: `deploy/profiles/example-operator.toml`
(subscribers, orders, sanctions) and `deploy/profiles/example-police.toml` (clues).

```toml
name = "wx-bss"                       # default: the file name; the hash namespace by default
hash_namespace = "wx-bss"             # shared by the profiles of one source's exports
timezone = "UTC"                      # zone of timestamps written without an offset
                                      # (IANA name; default Asia/Shanghai, i.e. none to convert)
time_format = "%Y/%m/%d %H:%M:%S"     # strptime format of those timestamps (default ISO)

[subscribers]                         # one table per feed; timezone / time_format override
[subscribers.columns]                 # our column = the export's column
msisdn = "手机号码"
holder_kind = "客户类型"
[subscribers.values.holder_kind]      # the export's value = ours (an enum's values only)
"个人" = "individual"
"单位" = "enterprise"
[subscribers.hashes]                  # declared digest format of an identity column
id_hash = "hex32"
[subscribers.defaults]                # for a column the export lacks ('' = empty)
status = "active"
[clues.fallback]                      # an open vocabulary: an unmapped code becomes this
fraud_type = "other"
[calls.columns]
ingress_carrier = "in_trunk_group"    # the switch's incoming trunk group ...
[calls.values.ingress_carrier]        # ... mapped to the partner carrier of each
"CU-NJ-01" = "china_unicom"
"CT-NJ-02" = "china_telecom"
```

- **Columns**: each feed column is read from the export column named in `[F.columns]` (its own
  name otherwise); other export columns are ignored. A feed column the export lacks needs a
  `[F.defaults]` value (`''` for empty, allowed for optional columns only), else the file is
  refused, naming the column and the profile.
- **Values**: `[F.values.COLUMN]` maps the export's values (exactly as exported) to ours; every
  target must be one of the column's values. A value with no mapping is left as it is, and
  quarantined as `bad_enum` unless it is one of ours already.
- **Open vocabularies**: `[F.fallback] COLUMN = "other"` sends every value that is neither mapped
  nor ours to that value instead of quarantine (clue fraud types, whose codes vary by source).
- **Hashes**: `hex64` (our HMAC-SHA256; any case, stored lowercased); `hex32` or `hex40` (the
  source's own keyed hash of 128 or 160 bits). A shorter digest is never un-hashed: it is stored
  as `sha256('<hash_namespace>:' || lower(digest))`, 64 hex digits, so the same identity from one
  source (its subscribers, orders and sanctions under one namespace) stays equal across its
  feeds, and never collides with or passes for the installation's own HMACs; a value not in the
  declared format is quarantined (`bad_hash`), withheld in the record.
- **Times**: a timestamp written without an offset is read in the profile's `timezone` (and
  `time_format`) and stored in China Standard Time (a zone without daylight saving, such as UTC,
  by a fixed shift; one with it, such as Europe/Berlin, by the date, through DuckDB's ICU
  calendar, about ten times slower); one with an offset is converted by its offset as without a
  profile. On the direct path, as without a profile, the CSV reader takes only
  `YYYY-MM-DD HH:MM:SS` (or the profile's `time_format`): a file with other forms (a date alone,
  a `T`) takes the exact path, with the same results. A value not in the declared `time_format`
  is quarantined (`bad_type`), never read as China Standard Time.
- The quarantine keeps a row's values after the profile's renames and mappings.

Use a profile with `telshield ingest FEED PATH --profile P` (`ingest all` applies it to every
feed folder), where `P` is a `.toml` path or a name in `ingest.profile_dir` (default
`data_dir/profiles`, as `P.toml`). In the operating cycle, `cycle.watch_profiles` maps a feed
folder of the drop folder to its profile, e.g. `watch_profiles = {clues = "ah-police"}`. A bad
profile stops the command with its file, line and key:

```
p.toml, line 7: `orders.hashes.id_hash`: unknown hash format 'md5'; use one of hex64, hex40, hex32
```

Before ingesting, `telshield feeds check FILE --feed F [--profile P]` reads the file through the
profile and runs the same checks, writing nothing: the export's unknown (ignored) columns and
missing ones, how many rows ingest would quarantine and why, and per column the export's
unmapped values with their counts, unparseable times with theirs, and the count of hashes not in
the declared format (never shown). It exits 1 when ingest would quarantine a row or refuse the
file, 0 when every row would be ingested:

```
$ telshield feeds check wx/subscribers.csv --feed subscribers --profile wx-bss
wx/subscribers.csv: feed subscribers, profile profiles/wx-bss.toml
columns: 手机号码, IMSI, 证件号摘要, 客户类型, 入网时间, 渠道编码, 工号, ..., 状态, 备注
unknown columns (ignored; rename them in [subscribers.columns] if they are ours): 备注
rows: 5; would be quarantined: 5
  bad_hash: 5 row(s)
holder_kind (export column '客户类型'): unmapped values: 5 row(s)
    '个人': 3
    '单位': 1
    '物联网': 1
id_hash (export column '证件号摘要'): values not in the declared hash format (not shown): 5 row(s)
status (export column '状态'): unmapped values: 5 row(s)
    '正常': 2
    ...
```

Speed: the projection runs inside the direct path's COPY; a calls file read through a profile
(renamed columns, mapped values, times converted from UTC) ingests at about the speed of the same
rows in our own form (`docs/performance.md`, "Ingest through a feed profile").
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
    feeds = "\n".join(render_feed(f) for f in FEEDS.values())
    return INTRO + reasons + "\n\n" + feeds + "\n" + PROFILES
