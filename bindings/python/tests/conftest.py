import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[3]


def data_dir():
    d = Path(os.environ.get("LLAMAS_TEST_DATA") or REPO.parent / "shared")
    if not (d / "models").is_dir():
        raise RuntimeError("reference data not found at %s (set LLAMAS_TEST_DATA)" % d)
    return d


@pytest.fixture(scope="session")
def data():
    return data_dir()


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
