"""The judging: the committed results read, their statistics, the claims and their verdicts; it never imports the document."""
