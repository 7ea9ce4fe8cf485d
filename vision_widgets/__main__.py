"""``python -m vision_widgets`` — the same as the installed ``vision`` command."""
from __future__ import annotations

import sys

from vision_widgets.cli import main

if __name__ == "__main__":
    sys.exit(main())
