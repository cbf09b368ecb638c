"""Relational store: tables, repositories, migrations (SQLite by default, PostgreSQL)."""
