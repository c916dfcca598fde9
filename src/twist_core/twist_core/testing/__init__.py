"""Helpers for the workspace's tests (imported by tests only)."""
