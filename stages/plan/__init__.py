"""The mixture planner, by concept: pilot curves (data/), loss laws (laws/), the CMR and its interval
(cmr/), backtests (backtests/), and the fit's settings (settings.py)."""
