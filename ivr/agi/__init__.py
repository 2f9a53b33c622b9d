"""FastAGI: a sans-I/O codec and a thin asyncio server around it."""
