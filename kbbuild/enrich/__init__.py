"""Chunk enrichment stages."""
