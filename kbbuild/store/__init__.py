"""The knowledge base on disk: LanceDB tables plus one manifest per KB version."""
