"""The mixture planner: loss laws (laws.py) and the critical mixture ratio with its CI (cmr.py)."""
