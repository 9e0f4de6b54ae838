"""Synthetic questions per chunk (doc2query): generator backends and Doc2Query-- filtering."""
