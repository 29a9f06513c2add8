"""The history browser (`promptvc tui`), built on Textual."""
