"""The work around a deal: the people on it (contacts) and the notes kept about it."""
