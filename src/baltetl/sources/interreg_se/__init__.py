"""The interreg_se source: fetch and parse in source.py."""
