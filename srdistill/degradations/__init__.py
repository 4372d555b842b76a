"""Degradations: turn an original (HR) batch into the low-resolution input of the student."""
