"""Reads of the evaluation app, one module per area (agreement, quality, review)."""
