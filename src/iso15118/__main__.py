"""``python -m iso15118``: the command-line tool (see :mod:`iso15118.cli`)."""

import sys

from iso15118.cli import main

sys.exit(main())
