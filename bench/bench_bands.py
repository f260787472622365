"""Peak RSS of one MinHash bands task as the corpus grows: key ranges vs one range per band.

Synthetic signatures (random, 5% of documents near-copies of another in their file with 8 of
126 values changed) are written as the signature tasks write them, 25k documents per file; then
the first unit of band 0 runs in a fresh process, which reports its peak RSS (VmHWM). The peer is
the same task with one range per band (``docs_per_band_task`` above the corpus size), the shape of
every band task before bands were split by key range: its memory grows with the corpus, the
ranged one's should stay flat.

    .venv/bin/python bench/bench_bands.py [--sizes 400000 1600000 6400000] [--docs-per-task 400000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.files import save_array  # noqa: E402
from stages.dedup.lsh import band_runs  # noqa: E402
from stages.dedup.signatures import MinhashConfig, band_keys  # noqa: E402

DOCS_PER_FILE = 25_000
PARTS = ("signatures", "id_hash", "band_keys", "band_rows")

UNIT = """
import json, sys
from stages.dedup.lsh import SignatureRows, band_edges, band_slice
from stages.dedup.signatures import MinhashConfig
from stages.memory import peak_rss
from stages.tasks import key_ranges
paths = [{part: f"{stem}.{part}.npy" for part in __PARTS__} for stem in json.loads(sys.argv[1])]
signatures, config = SignatureRows(paths), MinhashConfig(docs_per_band_task=int(sys.argv[2]))
ranges = key_ranges(signatures.offsets[-1], config.docs_per_band_task)
edges, _ = band_edges(*band_slice(paths, signatures.offsets, 0, 0, ranges), signatures, config)
print(json.dumps({"peak": peak_rss(), "ranges": ranges, "edges": edges.shape[1]}))
""".replace("__PARTS__", repr(PARTS))


def write_signatures(directory: Path, docs: int, config: MinhashConfig) -> list[str]:
    rng, stems = np.random.default_rng(1), []
    for start in range(0, docs, DOCS_PER_FILE):
        n = min(DOCS_PER_FILE, docs - start)
        signatures = rng.integers(0, 2**32, (n, config.num_perm), dtype=np.uint32)
        copies = rng.choice(n, n // 20, replace=False)
        signatures[copies] = signatures[rng.integers(0, n, len(copies))]
        changed = rng.integers(0, config.num_perm, (len(copies), 8))
        signatures[copies[:, None], changed] = rng.integers(
            0, 2**32, changed.shape, dtype=np.uint32
        )
        keys, rows = band_runs(band_keys(signatures, config), np.ones(n, bool))
        stems.append(str(directory / f"part-{start // DOCS_PER_FILE:05d}"))
        arrays = [
            signatures,
            rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False),
            keys,
            rows,
        ]
        for part, array in zip(PARTS, arrays):
            save_array(Path(f"{stems[-1]}.{part}.npy"), array)
    return stems


def unit_peak(stems: list[str], docs_per_task: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", UNIT, json.dumps(stems), str(docs_per_task)],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[400_000, 1_600_000, 6_400_000])
    parser.add_argument("--docs-per-task", type=int, default=400_000)
    args = parser.parse_args()
    print(
        f"{'docs':>9} {'ranges':>7} {'ranged MiB':>11} {'one range MiB':>14} {'one range / ranged':>19}",
        flush=True,
    )
    for docs in args.sizes:
        with tempfile.TemporaryDirectory(prefix="bench-bands-") as tmp:
            stems = write_signatures(Path(tmp), docs, MinhashConfig())
            ranged, whole = unit_peak(stems, args.docs_per_task), unit_peak(stems, docs)
        print(
            f"{docs:>9} {ranged['ranges']:>7} {ranged['peak'] / 2**20:>11.0f} {whole['peak'] / 2**20:>14.0f} "
            f"{whole['peak'] / ranged['peak']:>18.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
