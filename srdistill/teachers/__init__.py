"""Teachers: frozen recognition models that own their preprocessing."""
