"""Views of a running or recorded system: maps, pictures, reports."""
