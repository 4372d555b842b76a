"""Losses for training the student; a recipe combines several into a weighted sum."""
