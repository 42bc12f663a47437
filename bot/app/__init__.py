"""The Discord face: the Bot class, its command tree and the runner. Cogs live in `cogs/`."""
