"""Exports of a run's token shards and curriculum to other trainers' formats (``critmix export``).

``FORMATS`` is the one registry: format name -> writer class; the CLI offers its keys. A writer turns
one file set (pipeline/export/files.py) into the trainer's token files and one curriculum phase into the config
that trainer reads; pipeline/export/run.py does everything the formats share."""

from __future__ import annotations

from typing import Any

from pipeline.export.megatron import MegatronWriter
from pipeline.export.nanotron import NanotronWriter
from pipeline.export.olmo_core import OlmoCoreWriter

# Each writer class has: format (its name), dtypes (the token dtypes it stores), dtype_for(vocab_size),
# dropped_features (curriculum feature -> why the format cannot express it), write_file, write_phase.
FORMATS: dict[str, Any] = {
    "megatron": MegatronWriter,
    "nanotron": NanotronWriter,
    "olmo-core": OlmoCoreWriter,
}
