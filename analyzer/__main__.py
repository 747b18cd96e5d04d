"""`python -m mikeyshark`: the same command line as the `mikeyshark` script."""

import sys

from mikeyshark.cli import main

sys.exit(main())
