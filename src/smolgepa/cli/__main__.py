"""`python -m smolgepa.cli ...`"""

import sys

from smolgepa.cli import main

sys.exit(main())
