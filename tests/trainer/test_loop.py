import json
import os
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM

from tests.trainer.conftest import CURRICULUM, tiny_config, train_lines, two_domain_phase
from trainer.curriculum import Curriculum, MetadataSpec, SequenceSpec, write_curriculum
from trainer.loop import train


def test_killed_and_resumed_run_repeats_the_uninterrupted_one(tokens_dir, tmp_path):
    config = tiny_config(eval={"every_tokens": 512})
    whole = train(config, CURRICULUM, tokens_dir, tmp_path / "whole")
    # Killed in the middle of the second phase (step 20 of 32), then started again.
    assert (
        train(
            tiny_config(eval={"every_tokens": 512}, stop_after_steps=20),
            CURRICULUM,
            tokens_dir,
            tmp_path / "resumed",
        )
        is None
    )
    resumed = train(config, CURRICULUM, tokens_dir, tmp_path / "resumed")
    expected, got = train_lines(tmp_path / "whole"), train_lines(tmp_path / "resumed")
    assert len(expected) == 32 and [r["step"] for r in got] == list(range(1, 33))
    for a, b in zip(expected, got):
        assert (a["phase"], a["tokens"], a["lr"]) == (b["phase"], b["tokens"], b["lr"])
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6, abs=1e-6)
    a, b = (AutoModelForCausalLM.from_pretrained(p) for p in (whole, resumed))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("mode", ["concat", "decomposed"])
def test_a_run_resumed_mid_phase_with_metadata_repeats_the_uninterrupted_one(
    tokens_dir, tmp_path, mode
):
    phase = two_domain_phase("cpt", tokens=2048, init="scratch")
    phase.sequence = SequenceSpec(
        mode, {16: 1, 32: 3} if mode == "decomposed" else {}, "cyclic", cycles=2
    )
    phase.metadata = MetadataSpec("{domain}\n", until=0.75)
    curriculum = Curriculum(phases=[phase])
    train(tiny_config(), curriculum, tokens_dir, tmp_path / "whole")
    assert (
        train(tiny_config(stop_after_steps=7), curriculum, tokens_dir, tmp_path / "resumed") is None
    )
    train(tiny_config(), curriculum, tokens_dir, tmp_path / "resumed")
    expected, got = train_lines(tmp_path / "whole"), train_lines(tmp_path / "resumed")
    assert len(expected) == 16 and [(r["tokens"], r["lr"]) for r in got] == [
        (r["tokens"], r["lr"]) for r in expected
    ]
    assert [r["train_loss"] for r in got] == pytest.approx(
        [r["train_loss"] for r in expected], rel=1e-6, abs=1e-6
    )
    lines = [
        json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()
    ]
    mixture = next(line for line in lines if line.get("event") == "mixture")
    assert mixture["prefixed_steps"] == 12 and mixture["metadata"]["until"] == 0.75
    lengths = {16: 0.25, 32: 0.75} if mode == "decomposed" else {32: 1.0}
    assert {int(n): share for n, share in mixture["lengths"].items()} == pytest.approx(
        lengths, abs=0.01
    )


def test_outputs_load_as_hf_models_and_weights_only_state(tokens_dir, tmp_path):
    final = train(
        tiny_config(checkpoint={"average_last": 2, "every_tokens": 1024}),
        CURRICULUM,
        tokens_dir,
        tmp_path,
    )
    model = AutoModelForCausalLM.from_pretrained(final)
    assert model.config.hidden_size == 64
    checkpoints = sorted((tmp_path / "checkpoints").glob("step-*"))
    state = torch.load(checkpoints[-1] / "trainer_state.pt", weights_only=True)
    assert (
        state["phase"] == 1
        and state["step"] == 32
        and state["checkpoints"][-1] == checkpoints[-1].name
    )
    AutoModelForCausalLM.from_pretrained(checkpoints[-1])
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    mixture = [line for line in lines if line.get("event") == "mixture"][-1]
    assert mixture["realized"]["legal"] == pytest.approx(0.3, abs=0.01)
    assert mixture["chosen_by"]["legal"]["cmr"] == 0.31
    evals = [line for line in lines if "val" in line]
    assert evals[0]["tokens"] == 0 and set(evals[-1]["val"]) == {"general", "legal"}
    # The averaged final model differs from the last checkpoint (it averages two).
    last = AutoModelForCausalLM.from_pretrained(checkpoints[-1])
    assert not all(
        torch.equal(x, y) for x, y in zip(model.state_dict().values(), last.state_dict().values())
    )


@pytest.mark.slow
def test_two_process_ddp_on_gloo(tokens_dir, tmp_path):
    curriculum = tmp_path / "curriculum.yaml"
    write_curriculum(
        Curriculum(phases=[two_domain_phase("cpt", tokens=2048, init="scratch")]), curriculum
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        "train: {threads: 1, log_every_steps: 1, model: {hidden: 64, seq_len: 32}, "
        "optim: {micro_batch: 2}, eval: {val_sequences: 2}}\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_port=29517",
            "-m",
            "trainer",
            "train",
            "--config",
            str(config),
            "--curriculum",
            str(curriculum),
            "--tokens",
            str(tokens_dir),
            "--out",
            str(tmp_path / "out"),
        ],
        check=True,
        env=env,
        timeout=120,
    )
    lines = train_lines(tmp_path / "out")
    assert len(lines) == 2048 // (2 * 2 * 32) and lines[-1]["tokens"] == 2048
    AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "final")
