"""``python -m hotline_sandbox up|down|status|restart``."""

import sys

from hotline_sandbox.cli import main

sys.exit(main())
