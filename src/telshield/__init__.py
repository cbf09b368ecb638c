"""telshield — open-source telecom anti-fraud governance platform."""

__version__ = "0.1.0"
