"""Office, web, mail and plain-text files (docx, pptx, xlsx, html, md, txt, eml) through unstructured."""
