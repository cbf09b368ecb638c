"""The real-time call screening engine, its snapshot, and its HTTP and SIP faces."""
