"""Live pre-classification: the greeting and the caller's words over AudioSocket, then routing."""
