"""CSV text read with our own bound on a field's size.

The csv module's field limit is one setting for the whole process, and a library may raise it (frictionless
sets it when its CSV parser is imported).  A quote opened and never closed then swallowed the rest of a file
into one field instead of failing at 131,072 characters.  Every reader here sets the bound again first.
"""

from __future__ import annotations

import csv
import io

FIELD_LIMIT = 131_072  # characters in one field (the csv module's default): past it, csv.Error


def reader(text: str, delimiter: str):
    """csv.reader over `text` (newlines inside quotes kept), a field bounded by FIELD_LIMIT."""
    csv.field_size_limit(FIELD_LIMIT)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def dict_reader(text: str, delimiter: str) -> csv.DictReader:
    """csv.DictReader over `text`, a field bounded by FIELD_LIMIT."""
    csv.field_size_limit(FIELD_LIMIT)
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
