"""The pipeline itself: deals (opportunities) and the stages they move through, the customers they are
for, the users who work them, their history, undo, and deals as they stood at an instant (as-of)."""
