"""Feed readers (CSV/Parquet), validation with quarantine, and the lake layout; the feed
schemas themselves are reference data (``telshield.reference.schemas``)."""
