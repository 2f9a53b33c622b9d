"""12345 government-service hotline: IVR and call-routing controller for Asterisk."""

__version__ = "0.1.0"
