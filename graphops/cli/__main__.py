"""``python -m graphops.cli`` (and ``torchrun -m graphops.cli``) run the graphops CLI."""
import sys

from . import main

sys.exit(main())
