"""Speech to text for the real-name video statement: offline recognisers behind the
``services.statement.Transcriber`` protocol. Each engine is imported only when a statement is
first transcribed, so telshield runs without one (the sales system may send transcripts)."""
