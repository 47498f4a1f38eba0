from __future__ import annotations

from modelfleet.cli import main


def test_data_generate_writes_one_month(tmp_path, capsys):
    assert (
        main(["data", "generate", "surface_line1", "--month", "2026-02", "--out", str(tmp_path)])
        == 0
    )
    assert "surface_line1 2026-02" in capsys.readouterr().out
    assert (tmp_path / "train" / "manifest.csv").exists()
    assert len(list((tmp_path / "holdout").glob("*.png"))) == 60


def test_errors_are_one_line_and_exit_1(tmp_path, capsys):
    assert main(["data", "generate", "nope", "--month", "2026-02", "--out", str(tmp_path)]) == 1
    assert "unknown workflow 'nope'" in capsys.readouterr().err
    assert main(["data", "generate", "digits", "--month", "2030-01", "--out", str(tmp_path)]) == 1
    assert "no data for month 2030-01" in capsys.readouterr().err
