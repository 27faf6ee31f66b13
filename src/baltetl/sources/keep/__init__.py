"""The keep source: fetch and parse in source.py."""
