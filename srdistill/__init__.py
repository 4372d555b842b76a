"""srdistill: teacher-student super-resolution.

A super-resolution network (the student) is fine-tuned so that a frozen recognition model
(the teacher) sees the same thing in the super-resolved image as in the original.

Importing this package is cheap: torch, timm and basicsr are imported only where they are used.
"""

__version__ = "0.1.0"
