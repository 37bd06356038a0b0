"""The embedded store: one SQLite file (store.py), its schema (schema.py), its options."""
