from pipeline.cli import main


def test_sql_over_shards_and_removed(tiny_run, capsys):
    assert main(["sql", "--run", str(tiny_run), "--format", "csv",
                 "SELECT domain, count(*) AS n FROM shards GROUP BY ALL ORDER BY domain"]) == 0
    assert capsys.readouterr().out.splitlines() == ['"domain","n"', '"general",12', '"legal",8']
    assert main(["sql", "--run", str(tiny_run), "--format", "json", "SELECT count(*) AS n FROM removed"]) == 0
    assert capsys.readouterr().out.strip() == '{"n": 4}'


def test_sql_on_a_missing_run_says_what_to_do(tmp_path, capsys):
    assert main(["sql", "--run", str(tmp_path / "none"), "SELECT 1"]) == 1
    assert "make curate" in capsys.readouterr().err
