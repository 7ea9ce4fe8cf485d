"""Vision AI: a Jupyter-native dashboard for monitoring machine-learning models."""

__version__ = "0.1.0"


def connect(username=None, **kwargs):
    """Log in from a notebook: ``session = vision_widgets.connect()`` (see ``notebook_session.connect``)."""
    from vision_widgets.notebook_session import connect as _connect

    return _connect(username, **kwargs)
