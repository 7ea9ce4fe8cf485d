"""`vision profile` and `vision drift`: files in, JSON out, exit codes 0 / 2 / 3."""
from __future__ import annotations

import json

import pytest
from stats_data import mixed_frame

from vision_widgets.cli import main


@pytest.fixture()
def files(tmp_path):
    ref = mixed_frame(4000, seed=31)
    cur = mixed_frame(3000, seed=32)
    cur_drift = cur.assign(x1=cur["x1"] + 1.0, x2=cur["x2"] * 2, color="blue")
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_parquet(tmp_path / "cur.parquet")
    cur_drift.to_csv(tmp_path / "drift.csv", index=False)
    return tmp_path


def _profile(files, *args):
    return main(["profile", *map(str, args)])


def test_profile_and_drift_round_trip(files, capsys):
    ref_json, cur_json, drift_json = files / "ref.json", files / "cur.json", files / "drift.json"
    assert _profile(files, files / "ref.csv", "--target", "label", "--prediction", "score",
                    "--exclude", "id", "ts", "-o", ref_json) == 0
    assert _profile(files, files / "cur.parquet", "--reference", ref_json, "--timestamp", "ts",
                    "--window", "7D", "-o", cur_json) == 0
    assert _profile(files, files / "drift.csv", "--reference", ref_json, "-o", drift_json) == 0
    capsys.readouterr()
    d = json.loads(ref_json.read_text())
    assert d["schema"] == "vision.profile" and "id" not in d["columns"]

    assert main(["drift", str(ref_json), str(cur_json), "--fail-on-drift"]) == 0
    out = capsys.readouterr().out
    assert "no dataset drift" in out and "x1" in out and "wasserstein" in out

    assert main(["drift", str(ref_json), str(drift_json), "--json", "--fail-on-drift"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert list(report) == ["dataset_drift", "drift_share", "threshold_share", "features", "windows", "performance"]
    assert report["dataset_drift"] is True
    by = {f["feature"]: f for f in report["features"]}
    assert by["x1"]["drifted"] and by["color"]["drifted"]

    assert main(["drift", str(ref_json), str(drift_json)]) == 0  # drift without --fail-on-drift: exit 0
    assert "DATASET DRIFT" in capsys.readouterr().out

    assert main(["drift", str(ref_json), str(cur_json), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["windows"]) >= 4


def test_a_current_file_without_the_target_profiles_and_drift_estimates_performance(files, capsys):
    """Production data arrives before its labels: no target column, still a profile, drift and estimates."""
    import pandas as pd

    ref_json, cur_json = files / "ref.json", files / "cur.json"
    pd.read_parquet(files / "cur.parquet").drop(columns=["label"]).to_csv(files / "nolabel.csv", index=False)
    assert _profile(files, files / "ref.csv", "--target", "label", "--prediction", "score", "--exclude", "id", "ts",
                    "-o", ref_json) == 0
    assert _profile(files, files / "nolabel.csv", "--reference", ref_json, "-o", cur_json) == 0
    capsys.readouterr()
    cur = json.loads(cur_json.read_text())
    assert cur["roles"]["target"] is None and cur["model"]["target"] is None and "confusion" not in cur["model"]

    assert main(["drift", str(ref_json), str(cur_json), "--json"]) == 0
    perf = json.loads(capsys.readouterr().out)["performance"]
    assert perf["reason"] == "" and perf["windows"] == ["current"] and perf["rows"] == [3000]
    for m in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert 0.0 <= perf["estimated"][m][0] <= 1.0 and perf["realised"][m] == [None]
        lo, hi = perf["band"][m]
        assert perf["alerts"][m] == [not lo <= perf["estimated"][m][0] <= hi]
    assert main(["drift", str(ref_json), str(cur_json)]) == 0
    out = capsys.readouterr().out
    assert "estimated performance" in out and "accuracy" in out


def test_overrides_from_the_command_line(files, capsys):
    ref_json, cur_json = files / "ref.json", files / "cur.json"
    _profile(files, files / "ref.csv", "--exclude", "id", "ts", "label", "score", "-o", ref_json)
    _profile(files, files / "cur.parquet", "--reference", ref_json, "-o", cur_json)
    capsys.readouterr()
    assert main(["drift", str(ref_json), str(cur_json), "--json", "--method", "x1=psi",
                 "--threshold", "x2=0.00001"]) == 0
    by = {f["feature"]: f for f in json.loads(capsys.readouterr().out)["features"]}
    assert by["x1"]["method"] == "psi" and by["x2"]["threshold"] == 0.00001


@pytest.mark.parametrize("argv, match", [
    (["profile", "{d}/nothere.csv", "-o", "{d}/o.json"], "no such file"),
    (["profile", "{d}/ref.csv", "--target", "nope", "-o", "{d}/o.json"], "'nope'"),
    (["profile", "{d}/ref.csv", "--window", "7D", "-o", "{d}/o.json"], "--timestamp"),
    (["drift", "{d}/ref.csv", "{d}/ref.csv"], "not valid JSON"),
])
def test_bad_input_exits_2_with_a_message(files, capsys, argv, match):
    argv = [a.format(d=files) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vision: ") and match in err


def test_mismatched_profiles_exit_2(files, capsys):
    a, b = files / "a.json", files / "b.json"
    _profile(files, files / "ref.csv", "--exclude", "id", "ts", "-o", a)
    assert _profile(files, files / "cur.parquet", "--exclude", "id", "ts", "-o", b) == 0  # its own edges
    capsys.readouterr()
    assert main(["drift", str(a), str(b)]) == 2
    assert "--reference" in capsys.readouterr().err


def test_a_differentially_private_profile_from_the_command_line(files, capsys, monkeypatch):
    monkeypatch.setenv("VISION_PRIVACY_LEDGER", str(files / "ledger.json"))
    ref_json, out = files / "ref.json", files / "dp.json"
    assert _profile(files, files / "ref.csv", "--exclude", "id", "ts", "-o", ref_json) == 0
    args = (files / "cur.parquet", "--reference", ref_json, "--epsilon", "1", "--budget", "1", "-o", out)
    assert _profile(files, *args) == 0
    assert json.loads(out.read_text())["privacy"]["epsilon"] == 1.0
    capsys.readouterr()
    assert _profile(files, *args) == 2  # the same data again: its budget is spent
    assert "privacy budget of this data is spent" in capsys.readouterr().err
    assert main(["drift", str(ref_json), str(out), "--json"]) == 0
    assert _profile(files, files / "cur.parquet", "--budget", "2", "-o", out) == 2
