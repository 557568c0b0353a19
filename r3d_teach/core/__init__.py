"""The R3D estimator (placeholder docstring, written below)."""
