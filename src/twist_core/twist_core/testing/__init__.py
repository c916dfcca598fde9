"""Helpers for the workspace's tests (imported by tests only; the toy models are twist_core.toy_models)."""
