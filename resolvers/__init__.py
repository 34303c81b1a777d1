"""Async functions behind the schema's fields, and the DataLoaders that batch their reads."""
