"""``python -m painnjax.cli``: the ``painnjax`` command."""

import sys

from painnjax.cli import main

sys.exit(main())
