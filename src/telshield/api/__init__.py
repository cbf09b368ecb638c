"""FastAPI routers (thin), authentication, and the one error -> status table."""
