"""Shared helpers for the test suite (oracle discovery, schema loading)."""
