"""Dashboard: server-rendered pages."""
