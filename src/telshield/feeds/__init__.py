"""Feed schemas, readers (CSV/Parquet), validation with quarantine, and the lake layout."""
