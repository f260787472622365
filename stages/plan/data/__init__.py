"""Pilot curves: the CSV, one domain's curves as arrays (curves.py) and bootstrap draws of them (resample.py)."""
