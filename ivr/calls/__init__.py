"""Live call handling: the AGI routing service, call records, and AMI event adapter."""
