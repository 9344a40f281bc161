"""personvern: a customer register that enforces its company's privacy policy."""

__version__ = "0.1.0"
