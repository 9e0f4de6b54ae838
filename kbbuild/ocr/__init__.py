"""OCR, layout and table-structure backends (PaddleOCR's models), each a plugin provider."""
