"""`make bench`: a synthetic register and every hot path measured beside its floor (see bench/README.md)."""
