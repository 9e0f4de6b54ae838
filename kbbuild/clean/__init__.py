"""Cleaners: Document -> Document transforms (furniture, noise, duplicates, personal data)."""
