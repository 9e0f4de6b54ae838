"""Embedding: model cards, resolution of model names/folders, and the FlagEmbedding provider."""
