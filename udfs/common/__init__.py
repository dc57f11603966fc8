"""Shared intermediates and character sets for operators."""
