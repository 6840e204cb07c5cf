"""Where the examples find the API: LECTURES_API (default http://127.0.0.1:8080) and LECTURES_API_KEY (optional).
Run them from anywhere: they put the client package (clients/python) on the path themselves."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

API = os.environ.get("LECTURES_API", "http://127.0.0.1:8080")
KEY = os.environ.get("LECTURES_API_KEY")
