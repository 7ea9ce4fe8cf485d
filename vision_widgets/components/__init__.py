"""Reusable widgets shared by the views (no page logic here)."""
