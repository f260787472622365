"""What a new user must see on the console: which stages are on, and a stage that removed much of a source."""

import json
import shutil

from tests.conftest import curate_tiny


def curate_lines(run, capsys, *extra: str) -> list[str]:
    assert curate_tiny(run, *extra) == 0
    return capsys.readouterr().err.splitlines()


def test_the_console_and_the_manifest_list_every_stage_on_or_off_with_its_key(
    tiny_run, tmp_path, in_repo, capsys
):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    lines = curate_lines(run, capsys, "--set", "curate.langid.enabled=false")
    said = [line for line in lines if line.startswith("stages: ")]
    assert said == [
        "stages: langid off, heuristics off, toxicity off, boilerplate off, exact_dedup on, quality on, "
        "minhash on (curate.<stage>.enabled switches each)"
    ]
    switches = json.loads((run / "manifest.json").read_text())["switches"]
    assert switches["curate.langid.enabled"] is False and switches["curate.minhash.enabled"] is True


def test_a_stage_that_removes_more_than_the_set_share_of_a_source_is_named_with_its_key(
    tiny_run, tmp_path, in_repo, capsys
):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    removed = json.loads((run / "manifest.json").read_text())["counts"]
    assert not [line for line in curate_lines(run, capsys) if line.startswith("warning: ")]
    # The share is not part of the run's key: every stage is up to date, and only the warning changes.
    lines = curate_lines(run, capsys, "--set", "curate.warn_removed_share=0.1")
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert (
        "warning: exact_dedup removed 1 of 9 documents of source licences (11%): curate.exact_dedup sets "
        "what it removes (curate.warn_removed_share=0.1 sets when this is said)"
    ) in warnings
    assert len(warnings) == 1 and removed["licences"]["in"] == 9
    assert not any(line.endswith(": running") for line in lines)


def test_tied_quality_tiers_are_named_with_the_key_that_changes_them(
    tiny_run, tmp_path, in_repo, capsys
):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    lines = curate_lines(run, capsys, "--set", "curate.buckets.tier_quantiles=[0.5,0.5]")
    tied = [line for line in lines if "tier edges" in line]
    assert tied and all("curate.quality.positives" in line for line in tied)


def test_an_l_of_r_law_at_its_bound_says_which_bound_not_that_it_fits_poorly(in_repo, capsys):
    from pipeline.cli import main

    # The tiny flow's pilots (configs/tiny.yaml): their general loss rises so steeply in R that the
    # L(R) law's exponent reaches its upper bound, where R² 1.00 means nothing.
    assert main(["law", "fit", "--curves", "tests/data/tiny_flow_curves.csv"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "the general-loss L(R) law's exponent s = 4.00 sits at its bound (s in [-4, 4]" in said
    assert "fits poorly" not in said
