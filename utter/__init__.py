"""Utter: a self-hostable, multi-user voice studio."""

__version__ = "0.1.0"
