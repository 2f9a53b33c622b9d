"""Asterisk Manager Interface: a sans-I/O codec and an asyncio client with reconnect."""
