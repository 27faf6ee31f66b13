"""The networks source: fetch and parse in source.py."""
