"""Backtests: the planner against what it has not seen (backtest.py), the extrapolation error (extrapolation.py), the data-mixing law (compare.py)."""
