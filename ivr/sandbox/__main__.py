"""``python -m ivr.sandbox up|down|status|restart``."""

import sys

from ivr.sandbox.cli import main

sys.exit(main())
