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
    from pipeline.export.run import PhaseWeights
    from trainer.data.tokens import TokenShard

FILE = "00000.ds"


class NanotronWriter:
    """Writes datatrove token folders and per-phase nanotron data stages; see the module docstring."""

    dropped_features = {
        "metadata": "nanotron samples plain token windows: MeCo metadata prefixes are dropped",
        "decomposed": "nanotron samples fixed-length windows: the decomposed sequence lengths are dropped",
        "max_epochs": "nanotron's weighted folders repeat a small one as often as its weight asks: the "
        "repetition guard (train.data.max_epochs) is not enforced",
    }

    def __init__(self, vocab_size: int, tokenizer: Path):
        self.dtype = np.dtype(np.uint16 if vocab_size <= 65536 else np.uint32)
        self.tokenizer = tokenizer

    def write_file(self, shard: TokenShard, folder: Path, name: str) -> tuple[dict, list[Path]]:
        """The shard as ``<name>/00000.ds`` with index and metadata; returns its entry and files."""
        import humanize  # a datatrove dependency: its metadata files carry the humanized count

        data = folder / name / FILE
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_bytes(np.asarray(shard.tokens).astype(self.dtype).tobytes())
        index = data.with_name(f"{FILE}.index")
        index.write_bytes(shard.offsets[1:].astype(np.uint64).tobytes())
        metadata = data.with_name(f"{FILE}.metadata")
        count = len(shard)
        metadata.write_text(
            f"{self.tokenizer}|{self.dtype.itemsize}\n{count}\n{humanize.metric(count, unit='T')}"
        )
        return {"path": name, "dtype": str(self.dtype)}, [data, index, metadata]

    def write_phase(self, phase: PhaseWeights, folder: Path, final: Path) -> Path:
        """``phases/<phase>.yaml``: the phase's ``data_stages`` entry (folders weighted by domain share x
        bucket weight); its ``start_training_step`` is the manifest's phase transition iteration."""
        total = sum(weight for _, weight in phase.train)
        stage = {
            "name": phase.name,
            "data": {
                "dataset": {
                    "dataset_folder": [str(final / file.name) for file, _ in phase.train],
                    "dataset_weights": [round(weight / total, 10) for _, weight in phase.train],
                }
            },
        }
        config = folder / "phases" / f"{phase.name}.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(yaml.safe_dump({"data_stages": [stage]}, sort_keys=False))
        return config
