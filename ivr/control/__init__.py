"""The controller's local control API: JSON lines over a Unix socket (``hotline transfer``…)."""
