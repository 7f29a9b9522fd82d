"""Pulses and anonymous insights as a feature of `vipbot serve`, and what is drawn for management (charts)."""
