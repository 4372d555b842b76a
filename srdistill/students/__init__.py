"""Students: networks that map a low-resolution image back to the original's size."""
