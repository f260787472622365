"""nanotron: datatrove's token files (what ``DocumentTokenizer`` writes and nanotron's
``DatatroveFolderDataset`` reads), one folder per file set: ``<name>/00000.ds`` (the tokens, 2 bytes
each below 65,537 tokens of vocabulary, else 4), ``.ds.index`` (uint64 document ends, in tokens) and
``.ds.metadata`` (``<tokenizer>|<token size>``, the token count, the count humanized, as datatrove's
``TokenizedFile.write_final_metadata``); per phase a ``data_stages`` entry with folder weights."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

if TYPE_CHECKING:  # run.py imports the trainer's loader (torch); `critmix --help` must stay instant
    from pipeline.export.files import Parts
    from pipeline.export.run import ExportSettings, PhaseWeights

FILE = "00000.ds"


class NanotronWriter:
    """Writes datatrove token folders and per-phase nanotron data stages; see the module docstring."""

    dropped_features = {
        "metadata": "nanotron samples plain token windows: MeCo metadata prefixes are dropped",
        "decomposed": "nanotron samples fixed-length windows: the decomposed sequence lengths are dropped",
        "max_epochs": "nanotron's weighted folders repeat a small one as often as its weight asks: the "
        "repetition guard (train.data.max_epochs) is not enforced",
    }

    format = "nanotron"
    dtypes = (np.dtype(np.uint16), np.dtype(np.uint32))

    @staticmethod
    def dtype_for(vocab_size: int) -> np.dtype:
        """datatrove's token size: 2 bytes up to 65,536 tokens of vocabulary, else 4."""
        return np.dtype(np.uint16 if vocab_size <= 65536 else np.uint32)

    def __init__(self, settings: ExportSettings, dtype: np.dtype):
        self.dtype = dtype
        self.tokenizer = settings.tokenizer.path

    def write_file(self, parts: Parts, folder: Path) -> tuple[dict, list[Path]]:
        """The file set as ``<name>/00000.ds`` with index and metadata; returns its entry and files."""
        import humanize  # a datatrove dependency: its metadata files carry the humanized count

        data = folder / parts.file_set.name / FILE
        parts.write_tokens(data)
        ends = np.cumsum(parts.lengths())
        data.with_name(f"{FILE}.index").write_bytes(ends.astype(np.uint64).tobytes())
        metadata = data.with_name(f"{FILE}.metadata")
        count = int(ends[-1])
        metadata.write_text(
            f"{self.tokenizer}|{self.dtype.itemsize}\n{count}\n{humanize.metric(count, unit='T')}"
        )
        return {"path": parts.file_set.name}, [data, data.with_name(f"{FILE}.index"), metadata]

    def write_phase(self, phase: PhaseWeights, folder: Path, final: Path) -> Path:
        """``phases/<phase>.yaml``: the phase's ``data_stages`` entry (folders weighted by domain share x
        bucket weight); its ``start_training_step`` is the manifest's phase transition iteration."""
        total = sum(weight for _, weight in phase.train)
        stage = {
            "name": phase.name,
            "data": {
                "dataset": {
                    "dataset_folder": [str(final / p.file_set.name) for p, _ in phase.train],
                    "dataset_weights": [round(weight / total, 10) for _, weight in phase.train],
                }
            },
        }
        config = folder / "phases" / f"{phase.name}.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(yaml.safe_dump({"data_stages": [stage]}, sort_keys=False))
        return config
