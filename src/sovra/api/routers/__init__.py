"""One thin router per room."""
