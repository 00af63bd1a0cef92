"""``python -m cti.clients.cli``, as ``python -m cti``."""
import sys

from cti.clients.cli import main

sys.exit(main())
