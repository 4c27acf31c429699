"""Wiring: the model options and ``lm`` fixture, and the report plugin that counts and tabulates."""

pytest_plugins = ("models.fixtures", "runner.workers", "reports.plugin")
