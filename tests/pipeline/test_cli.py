"""The command line's parser is built without the heavy libraries the commands use."""
import subprocess
import sys
from pathlib import Path

HEAVY = ("scipy", "torch", "transformers", "matplotlib", "duckdb", "fasttext")


def test_building_the_parser_imports_no_heavy_library():
    probe = (
        "import sys; from pipeline.cli import build_parser; build_parser(); "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).parents[2])
    assert done.stdout.split() == []
