"""`python -m daemon` runs the same CLI as `image-engine`."""

import sys

from daemon.cli import main

sys.exit(main())
