"""Josev (EcoG-io/iso15118) as the peer of our session tests: see harness.py and README.md."""
