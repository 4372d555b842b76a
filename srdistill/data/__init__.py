"""Data sets: each yields ``(uint8 image (C, H, W), label)`` at the original (HR) size."""
