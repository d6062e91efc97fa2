"""`make handin` (`lab01 handin`): without NAME, an account many people share (Colab's root,
Jupyter's jovyan) cannot name the student, so it asks for NAME and writes nothing."""

from __future__ import annotations

import pytest

from lab01_utils import handin


@pytest.mark.parametrize("account", ["root", "jovyan", ""])
def test_a_shared_account_asks_for_a_name_and_writes_nothing(
    account, monkeypatch, tmp_path, capsys
):
    monkeypatch.setattr(handin, "_account", lambda: account)
    assert handin.main(["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "make handin NAME=yourname" in err
    assert not (tmp_path / "out").exists()


def test_a_personal_account_names_the_archive_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(handin, "_account", lambda: "ada")
    monkeypatch.setattr(
        handin,
        "write_handin",
        lambda root, name, out: (out / f"{name}.zip", {"files": [], "exercises": {}}),
    )
    assert handin.main(["--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "named after your account, 'ada' (NAME=... to choose another name)" in out
    assert "ada.zip" in out
