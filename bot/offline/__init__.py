"""The offline tools: `wirebrief demo` (the real pipeline on packaged feeds, a simulated clock, an
in-memory store and a recording publisher) and `wirebrief preview` (the configured feeds fetched
once, cards shown, nothing posted). Never imports discord.py, so both start fast."""
