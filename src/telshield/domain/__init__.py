"""Pure types and laws: numbers, verdicts, case lifecycle, list entries, errors (stdlib only)."""
