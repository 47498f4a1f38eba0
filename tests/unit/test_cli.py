from __future__ import annotations

from modelfleet.cli import main


def test_data_generate_delivers_one_month_in_label_folders(tmp_path, capsys):
    out = tmp_path / "2026-02"
    assert main(["data", "generate", "surface_line1", "--month", "2026-02", "--out", str(out)]) == 0
    assert "surface_line1 2026-02" in capsys.readouterr().out
    assert {p.name for p in (out / "train").iterdir()} == {"ok", "scratch", "spot", "crack"}
    assert len(list((out / "holdout").glob("*/*.png"))) == 60
    # a second delivery of the same month would silently mix two batches: refused
    assert main(["data", "generate", "surface_line1", "--month", "2026-02", "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err


def test_errors_are_one_line_and_exit_1(tmp_path, capsys):
    assert (
        main(["data", "generate", "nope", "--month", "2026-02", "--out", str(tmp_path / "x")]) == 1
    )
    assert "unknown workflow 'nope'" in capsys.readouterr().err
    out = str(tmp_path / "x")
    assert main(["data", "generate", "digits", "--month", "2030-01", "--out", out]) == 1
    assert "no data for month 2030-01" in capsys.readouterr().err
