"""Exporters: write a KB version in formats other tools read."""
