"""Notifications (rules, their store) and their delivery to people (channels, delivery jobs)."""
