"""Services: wire the core and the adapters (ingest, enrichment, outbox, scheduler)."""
