"""Exports of a run's token shards and curriculum to other trainers' formats (``critmix export``).

``FORMATS`` is the one registry: format name -> writer class; the CLI offers its keys. A writer turns
one critmix token shard into the trainer's token file set and one curriculum phase into the config
that trainer reads; pipeline/export/run.py does everything the formats share."""

from __future__ import annotations

from pipeline.export.megatron import MegatronWriter
from pipeline.export.nanotron import NanotronWriter

FORMATS = {"megatron": MegatronWriter, "nanotron": NanotronWriter}
