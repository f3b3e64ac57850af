"""Long-term memory of each person: Mem0 on pgvector (see memory/engine.py).

Set before any module of this app can import mem0: it phones home unless told not to (forced
off, whatever the environment says), and it makes its folder at import (ours, not ~/.mem0).
"""

import os
from pathlib import Path

os.environ["MEM0_TELEMETRY"] = "False"
os.environ.setdefault("MEM0_DIR", str(Path(__file__).resolve().parents[1] / ".data" / "mem0"))
