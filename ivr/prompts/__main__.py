"""``python -m ivr.prompts`` is ``python -m ivr.prompts.make``."""

import sys

from ivr.prompts.make import main

sys.exit(main())
