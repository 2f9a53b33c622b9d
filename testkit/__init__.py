"""Test and benchmark support: SIPp peers and a controller process, driven from Python."""
