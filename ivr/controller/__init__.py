"""Wiring of the live controller: FastAGI server, AMI supervisor, config reloads."""
