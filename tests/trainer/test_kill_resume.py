"""SIGKILL `python -m trainer tokenize|train` at chosen and random points, run it again: the result is
the uninterrupted run's, and nothing half-written is ever visible under its final name."""

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

from tests.conftest import REPO
from tests.trainer.conftest import (
    CURRICULUM,
    folder_digest,
    tiny_config,
    train_lines,
    two_domain_phase,
)
from trainer.__main__ import main as trainer_main
from trainer.curriculum import Curriculum, write_curriculum
from trainer.data.tokenize import tokenize_shards
from trainer.loop import latest_checkpoint, train

# The train: section of tiny_config() as a recipe, so the CLI runs exactly what the in-process runs do.
RECIPE = (
    "train: {seed: 0, threads: 1, log_every_steps: 1, model: {preset: tiny, hidden: 64, seq_len: 32}, "
    "tokenizer: {vocab_size: 300}, optim: {micro_batch: 4}, eval: {val_sequences: 4, at_tokens: [0]}, "
    "data: {val_fraction: 0.1, min_piece: 8}, checkpoint: {every_tokens: 256, keep: 2}}\n"
)


class Renames:
    """Records every rename destination, so files written in place under their final name can be found."""

    def __init__(self, monkeypatch):
        self.targets: set[Path] = set()
        for name in ("replace", "rename"):
            original = getattr(os, name)
            monkeypatch.setattr(os, name, self._recording(original))

    def _recording(self, original):
        def rename(src, dst, *args, **kwargs):
            original(src, dst, *args, **kwargs)
            self.targets.add(Path(dst).resolve())

        return rename

    def written_in_place(self, root: Path) -> list[str]:
        """Files under ``root`` that neither they nor a folder above them reached by a rename."""
        return sorted(
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file() and not {p.resolve(), *p.resolve().parents} & self.targets
        )


def start(command: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    with log.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "trainer", *command],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )


def kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> bool:
    """SIGKILL ``proc`` as soon as ``ready()`` holds; False when it finished first."""
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        if ready():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    assert proc.wait() == 0, "the run failed instead of finishing"
    return False


def count_files(root: Path) -> int:
    return sum(
        len(files) for _, _, files in os.walk(root)
    )  # os.walk, unlike rglob, skips folders being removed


def finish(command: list[str], log: Path) -> None:
    assert start(command, log).wait() == 0, log.read_text()[-3000:]


# ---- tokenization -----------------------------------------------------------------------------------


def test_every_tokenize_output_is_renamed_into_place(shards_dir, tokens_dir, tmp_path, monkeypatch):
    renames = Renames(monkeypatch)
    tokenize_shards(shards_dir, tmp_path / "trained", tiny_config())
    tokenize_shards(
        shards_dir, tmp_path / "given", tiny_config(tokenizer={"path": str(tokens_dir)})
    )
    assert renames.written_in_place(tmp_path) == []


def assert_tokens_whole(tokens: Path) -> None:
    """What is visible under a final name is complete: a loadable tokenizer, headers matching their data."""
    if (tokens / "tokenizer.json").exists():
        Tokenizer.from_file(str(tokens / "tokenizer.json"))
    for header_path in tokens.glob("*/**/*.json"):
        header = json.loads(header_path.read_text())
        size = os.path.getsize(header_path.with_suffix(".bin"))
        assert size == header["tokens"] * (2 if header["dtype"] == "uint16" else 4), header_path


@pytest.mark.slow
def test_killed_tokenization_resumes_to_identical_shards(shards_dir, tmp_path):
    reference = tmp_path / "reference"
    tokenize_shards(shards_dir, reference, tiny_config())
    expected = folder_digest(reference)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE)
    tokens, log = tmp_path / "killed", tmp_path / "tokenize.log"
    command = [
        "tokenize",
        "--shards",
        str(shards_dir),
        "--out",
        str(tokens),
        "--config",
        str(recipe),
    ]
    rng = random.Random(0)
    # Kill after the k-th output file appears (k random), so the kills land inside the writes, not in imports.
    for files_seen in sorted(rng.sample(range(1, len(expected)), 3)):
        killed = kill_when(start(command, log), lambda seen=files_seen: count_files(tokens) >= seen)
        assert_tokens_whole(tokens)
        if not killed:
            break
    finish(command, log)
    # No temporary file a kill left survives the finishing run.
    got = {
        name: digest for name, digest in folder_digest(tokens).items() if name != ".trainer.lock"
    }
    assert got == expected


# ---- training ---------------------------------------------------------------------------------------


def train_command(tmp_path: Path, tokens_dir: Path, out: Path) -> list[str]:
    recipe, spec = tmp_path / "recipe.yaml", tmp_path / "curriculum.yaml"
    recipe.write_text(RECIPE)
    write_curriculum(CURRICULUM, spec)
    return [
        "train",
        "--config",
        str(recipe),
        "--curriculum",
        str(spec),
        "--tokens",
        str(tokens_dir),
        "--out",
        str(out),
    ]


def losses(out: Path) -> list[tuple]:
    return [(r["step"], r["lr"], r["train_loss"]) for r in train_lines(out)]


def metric_steps(out: Path) -> int:
    path = out / "metrics.jsonl"
    return path.read_text().count('"train_loss"') if path.exists() else 0


def writing_checkpoint(out: Path, since: float) -> bool:
    """A checkpoint folder is being filled since ``since`` while an earlier one is `latest`
    (a folder a killed run left unfinished is older)."""
    folder = out / "checkpoints"
    try:
        return (folder / "latest").exists() and any(
            p.stat().st_mtime > since for p in folder.glob(".tmp-step-*")
        )
    except FileNotFoundError:  # removed while we looked
        return False


@pytest.mark.slow
def test_training_killed_at_random_steps_and_mid_checkpoint_repeats_the_uninterrupted_run(
    tokens_dir, tmp_path
):
    whole = tmp_path / "whole"
    train(tiny_config(checkpoint={"every_tokens": 256, "keep": 2}), CURRICULUM, tokens_dir, whole)
    out, log = tmp_path / "killed", tmp_path / "train.log"
    command = train_command(tmp_path, tokens_dir, out)
    first, second = sorted(
        random.Random(0).sample(range(2, 32), 2)
    )  # 32 steps in two phases, a checkpoint every 2
    faults = [
        lambda: metric_steps(out) >= first,
        lambda: writing_checkpoint(out, started),
        lambda: metric_steps(out) >= second,
    ]
    for fault in faults:
        started = time.time()  # read by the mid-checkpoint fault when it is polled
        assert kill_when(start(command, log), fault), "the run finished before the fault"
        latest = latest_checkpoint(out)  # `latest` names a whole checkpoint whenever it exists
        if latest is not None:
            AutoModelForCausalLM.from_pretrained(latest)
            torch.load(latest / "trainer_state.pt", weights_only=True)
    finish(command, log)
    assert losses(out) == losses(whole) and len(losses(whole)) == 32
    assert not list(
        (out / "checkpoints").glob(".tmp-*")
    )  # the killed checkpoint writes were cleared
    a, b = (AutoModelForCausalLM.from_pretrained(p / "final") for p in (whole, out))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_every_training_output_is_renamed_into_place(tokens_dir, tmp_path, monkeypatch):
    renames = Renames(monkeypatch)
    phase = two_domain_phase("cpt", tokens=512, init="scratch")
    train(
        tiny_config(checkpoint={"every_tokens": 256, "average_last": 2}),
        Curriculum(phases=[phase]),
        tokens_dir,
        tmp_path,
    )
    assert renames.written_in_place(tmp_path) == []


def test_a_metrics_line_cut_short_is_dropped_on_resume(tokens_dir, tmp_path):
    """A kill or a full disk in the middle of appending a line must not stop the run from resuming."""
    config = tiny_config(checkpoint={"every_tokens": 256})
    curriculum = Curriculum(phases=[two_domain_phase("cpt", tokens=1024, init="scratch")])
    train(config, curriculum, tokens_dir, tmp_path / "whole")
    cut = tmp_path / "cut"
    assert (
        train(
            tiny_config(checkpoint={"every_tokens": 256}, stop_after_steps=4),
            curriculum,
            tokens_dir,
            cut,
        )
        is None
    )
    with (cut / "metrics.jsonl").open("a") as metrics:
        metrics.write('{"phase": "cpt", "step": 5, "tok')
    train(config, curriculum, tokens_dir, cut)
    assert losses(cut) == losses(tmp_path / "whole") and len(losses(cut)) == 8


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_is_a_clear_error_and_the_run_resumes(
    tokens_dir, tmp_path, monkeypatch, capsys, code
):
    whole = tmp_path / "whole"
    train(tiny_config(checkpoint={"every_tokens": 256, "keep": 2}), CURRICULUM, tokens_dir, whole)
    out = tmp_path / "out"
    command = train_command(tmp_path, tokens_dir, out)
    save, calls = torch.save, []

    def save_until_the_disk_fills(obj, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(code, os.strerror(code), str(path))
        return save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_the_disk_fills)
    assert trainer_main(command) == 1
    assert "free disk space or fix the permissions" in capsys.readouterr().err
    assert (
        latest_checkpoint(out).name == "step-00000004"
    )  # the third checkpoint failed; the second stands
    assert not list(
        (out / "checkpoints").glob(".tmp-*")
    )  # its half was removed, giving the space back
    monkeypatch.setattr(torch, "save", save)
    assert trainer_main(command) == 0
    assert losses(out) == losses(whole)


def test_a_second_trainer_on_the_same_output_is_refused_until_the_first_dies(shards_dir, tmp_path):
    out, log = tmp_path / "tokens", tmp_path / "tokenize.log"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from trainer.__main__ import lock_output\n"
            f"lock = lock_output({str(out)!r}); print('locked', flush=True); time.sleep(120)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    assert holder.stdout.readline() == b"locked\n"
    command = ["tokenize", "--shards", str(shards_dir), "--out", str(out)]
    refused = subprocess.run(
        [sys.executable, "-m", "trainer", *command], cwd=REPO, capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert (
        f"{out} is in use by trainer process {holder.pid}; wait for it to finish" in refused.stderr
    )
    assert [p.name for p in out.iterdir()] == [".trainer.lock"]
    holder.kill()  # SIGKILL: no clean-up runs, yet the kernel releases the lock with the process
    holder.wait()
    finish([*command, "--set", "tokenizer.vocab_size=300"], log)
    assert (out / "tokenizer.json").exists()
