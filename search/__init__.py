"""Full-text search behind one SearchBackend interface (issue 4)."""
