"""Stacks compose constructs; they create no resources themselves."""
