"""``python -m ridgeline`` is the ``ridgeline`` command."""

from __future__ import annotations

import sys

from ridgeline.cli import main

sys.exit(main())
