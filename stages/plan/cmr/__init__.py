"""The CMR: its views (views.py), its interval (interval.py), the fit (fit.py), the mixture (mixture.py), sweeps (sweeps.py)."""
