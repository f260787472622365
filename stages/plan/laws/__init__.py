"""Loss laws: the power laws and their fitter (power.py), the joint (R, T) tail law (joint.py), the turnaround (turnaround.py), the CMR across model sizes (sizes.py)."""
