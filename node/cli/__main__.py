"""``python -m node.cli``: the ``dgledger`` command."""

import sys

from node.cli.main import main

sys.exit(main())
