"""Reports over the call store: GB/T 33358 KPIs, merger traffic, plots (docs/operations.md)."""
