"""Gateware of the Dysta hardware scheduler (Amaranth 0.5)."""
