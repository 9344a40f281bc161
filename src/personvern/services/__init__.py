"""Use cases: one transaction each, reaching storage and the outside world only through the ports."""
