"""The clusters source: fetch and parse in source.py."""
