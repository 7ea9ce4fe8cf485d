"""Vision AI: a Jupyter-native dashboard for monitoring machine-learning models."""

__version__ = "0.1.0"
