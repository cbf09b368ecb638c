"""Use cases: ingest, detection runs, disposal, lists, registration, liaison, reports."""
