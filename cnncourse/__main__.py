"""``python -m cnncourse`` is the ``cnncourse`` command."""

from cnncourse.cli import main

raise SystemExit(main())
