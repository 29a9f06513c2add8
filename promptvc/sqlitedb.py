"""sqlite-utils, loaded without numpy.

sqlite-utils imports numpy whenever it is installed, only to map numpy's number types to the
column types of tables it creates from data. promptvc creates every table itself and binds plain
Python values, so that import (50-80 ms on every command that opens the store, a sixth of a long
`log`) buys nothing: while sqlite-utils loads, `import numpy` fails as if numpy were absent.
numpy itself stays importable; the statistics import it when they run.
"""

from __future__ import annotations

import sys

_hidden = "numpy" not in sys.modules
if _hidden:
    sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` raises ImportError
try:
    import sqlite_utils
    from sqlite_utils import Migrations
    from sqlite_utils.utils import chunks
finally:
    if _hidden:
        del sys.modules["numpy"]

__all__ = ["Migrations", "chunks", "sqlite_utils"]
