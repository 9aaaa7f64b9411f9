"""``python -m gui`` starts Training Explorer, exactly like the ``training-explorer`` command."""

import sys

from gui.app import main

sys.exit(main())
