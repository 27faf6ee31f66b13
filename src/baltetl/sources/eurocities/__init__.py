"""The eurocities source: fetch and parse in source.py."""
