"""OLMo-core: raw token arrays, ``<name>.npy`` (no .npy header: OLMo-core's numpy datasets memory-map
the bytes, ``olmo_core.data.utils.load_array_slice``), each document followed by the EOS, in the
smallest unsigned dtype that holds the vocabulary (``NumpyDatasetConfig.get_dtype``); per phase
``phases/<phase>.yaml``: ``phase`` and ``dataset``, a ``NumpyFSLDatasetConfig`` whose
``source_mixture_config`` (``SourceMixtureDatasetConfig``) has one source per train file set,
``target_ratio`` its planned share, ``max_repetition_ratio`` train.data.max_epochs, and the phase's
tokens as ``requested_tokens`` at the export's global batch (in tokens)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

if TYPE_CHECKING:  # run.py imports the trainer's loader (torch); `critmix --help` must stay instant
    from pipeline.export.files import Parts
    from pipeline.export.run import ExportSettings, PhaseWeights


class OlmoCoreWriter:
    """Writes OLMo-core token arrays and per-phase source mixtures; see the module docstring."""

    format = "olmo-core"
    dtypes = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64))
    dropped_features = {
        "metadata": "OLMo-core's numpy datasets hold plain token arrays: MeCo metadata prefixes are dropped",
        "decomposed": "NumpyFSLDataset cuts the concatenated documents into fixed-length instances: the "
        "decomposed sequence lengths are dropped",
    }

    @staticmethod
    def dtype_for(vocab_size: int) -> np.dtype:
        """The smallest unsigned dtype that holds every id, as OLMo-core infers it from the vocabulary."""
        return next(d for d in OlmoCoreWriter.dtypes if vocab_size - 1 <= np.iinfo(d).max)

    def __init__(self, settings: ExportSettings, dtype: np.dtype):
        self.settings, self.dtype = settings, dtype

    def write_file(self, parts: Parts, folder: Path) -> tuple[dict, list[Path]]:
        """The file set as ``<name>.npy``; returns its manifest entry and the file written."""
        path = folder / f"{parts.file_set.name}.npy"
        parts.write_tokens(path)
        return {"path": f"{parts.file_set.name}.npy"}, [path]

    def write_phase(self, phase: PhaseWeights, folder: Path, final: Path) -> Path:
        total = sum(weight for _, weight in phase.train)
        sources = [
            {
                "source_name": p.file_set.name,
                "target_ratio": round(weight / total, 10),
                "paths": [str(final / f"{p.file_set.name}.npy")],
                "max_repetition_ratio": self.settings.max_epochs,
            }
            for p, weight in phase.train
        ]
        tokenizer = self.settings.tokenizer
        dataset = {
            "tokenizer": {
                "vocab_size": tokenizer.vocab_size,
                "eos_token_id": tokenizer.eos_id,
                "pad_token_id": tokenizer.eos_id,
            },
            "dtype": str(self.dtype),
            "sequence_length": self.settings.seq_len,
            "source_mixture_config": {
                "source_list": {"sources": sources},
                "requested_tokens": phase.tokens,
                "global_batch_size": self.settings.step_tokens,
            },
        }
        config = folder / "phases" / f"{phase.name}.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            yaml.safe_dump({"phase": phase.name, "dataset": dataset}, sort_keys=False)
        )
        return config
