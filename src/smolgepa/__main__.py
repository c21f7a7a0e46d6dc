"""`python -m smolgepa ...`: the `smolgepa` command."""

import sys

from smolgepa.cli import main

sys.exit(main())
