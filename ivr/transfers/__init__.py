"""Agent-started transfers: three-way (三方转接), blind and one-key emergency (一键转接)."""
