"""``python -m hdrsyn``: same as the ``hdrsyn`` command."""

from hdrsyn.cli import main

raise SystemExit(main())
