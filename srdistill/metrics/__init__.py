"""Metrics: means over images of a per-image value, accumulated on the device."""
