"""``python -m client.cli``: the ``transcriber`` command without installing its entry point."""

import sys

from client.cli import main

sys.exit(main())
