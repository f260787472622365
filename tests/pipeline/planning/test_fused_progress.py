import json

from pipeline.planning.pilots import GroupLines


def test_a_fused_group_says_each_pilots_progress_as_it_trains(tmp_path, capsys):
    outs = {name: tmp_path / name for name in ("legal-r0250", "legal-r0500")}
    lines = GroupLines(outs, 1000, every=0.0)
    lines.tick()  # nothing started: nothing to say
    outs["legal-r0250"].mkdir()
    record = {"tokens": 500, "train_loss": 3.25}
    (outs["legal-r0250"] / "metrics.jsonl").write_text(json.dumps(record) + "\n")
    lines.tick()
    said = capsys.readouterr().err
    assert "legal-r0250: 500/1,000 tokens, loss 3.250" in said and "r0500" not in said
