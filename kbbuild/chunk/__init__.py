"""Chunkers: a cleaned Document in, retrievable Chunks out."""
