"""The batch job: discover -> parse -> clean -> chunk -> enrich -> embed -> store."""
