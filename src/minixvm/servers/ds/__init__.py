"""DS, the data store: named values published and retrieved by system processes."""
