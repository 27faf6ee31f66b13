"""The cordis source: fetch and parse in source.py."""
