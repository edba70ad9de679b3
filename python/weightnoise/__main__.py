"""``python -m weightnoise``: the same as the ``weightnoise`` command."""

import sys

from .cli import main

sys.exit(main())
