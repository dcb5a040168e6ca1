"""Replay a real day of the bank's calls through a running server."""
