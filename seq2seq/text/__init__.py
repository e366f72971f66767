"""Text around the sentences: splitting text into sentences and back with its whitespace kept,
telling what has nothing to translate, HTML with its markup kept, and language identification.
No torch here; the translations come in from the caller."""
