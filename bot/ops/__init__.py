"""Operations: the health endpoint (`health`) and the event loop's lag (`looplag`) an operator and
a service manager watch. No discord.py: the runtime hands them what to report."""
