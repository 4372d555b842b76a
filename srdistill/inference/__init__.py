"""Using a trained student outside training: super-resolving images, exporting the network."""
