"""Language-aware text utilities shared by several stages (Chinese and English alike)."""
