"""``python -m memamba.cli``: the console script."""

import sys

from memamba.cli.main import main

sys.exit(main())
