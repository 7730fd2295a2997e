"""What the unit tests need to import their helpers under `ansible-test units`, which runs pytest with its
own configuration (not pyproject.toml's `pythonpath`), also from a copy holding only the Galaxy artifact's
files: the flat helpers in tests/ (`chains`, `servers`, `collection_paths`) and the collection root, for
`tests.support` and `tests.support.ps_spec`. Nothing here needs the lab."""

from __future__ import annotations

import sys
from pathlib import Path

for _folder in (Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2]):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
