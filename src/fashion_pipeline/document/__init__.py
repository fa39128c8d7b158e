"""The document: the figures, the words and the page, made from what judging/ found."""
