import sys

from ttc_core.cli import main

sys.exit(main())
