"""Storage engines behind one contract (see contract.py); chosen by URL in registry.py."""
