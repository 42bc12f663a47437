"""discord.py extensions. Every public module with `async def setup(bot)` is loaded at start-up."""
