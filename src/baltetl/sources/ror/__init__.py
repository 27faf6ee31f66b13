"""The ror source: fetch and parse in source.py."""
