"""Input sources: each module reads one kind of file, recognised by content."""
