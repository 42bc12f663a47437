"""Core: plain data types and pure decisions. No I/O, no discord.py, no aiohttp, no store."""
