"""The wallboard (大屏) and the agent desk: a small aiohttp server inside the controller
(docs/operations.md)."""
