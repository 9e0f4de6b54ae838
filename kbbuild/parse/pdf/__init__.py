"""PDF parsing: text layer first; layout, tables and OCR build on the same elements."""
