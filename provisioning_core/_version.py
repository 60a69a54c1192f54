"""The core's version, kept in one place: hatchling reads it for the wheel and
compatibility checks compare plugins' ``Requires-Dist`` against it without
touching installed metadata."""

__version__ = "0.1.0"
