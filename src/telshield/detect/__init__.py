"""Detectors as lazy dataframe expressions: they take and return tables, never execute."""
