import sys

from hvlab.cli import main

sys.exit(main())
