"""Parsers: one file in, one ``Document`` out. Each format's parser is a plugin."""
