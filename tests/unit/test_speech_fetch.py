"""The model fetch tool: verification, offline install, unreachable URLs, unsafe zips."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from ivr.speech.fetch import MODELS, FetchError, ModelSpec, fetch, install, main, sha256_of, verify

REPO = Path(__file__).resolve().parents[2]
FST = bytes.fromhex("d6fdb27e") + b"fake fst"
FILES = {
    "am/final.mdl": b"\x00B<TransitionModel> fake",
    "conf/mfcc.conf": b"--use-energy=false\n",
    "conf/model.conf": b"--beam=10.0\n",
    "graph/HCLr.fst": FST + b"hclr",
    "graph/Gr.fst": FST + b"gr",
    "ivector/final.ie": b"\x00B<IvectorExtractor> fake",
}


def fake_model(root: Path, name: str = "vosk-model-test") -> Path:
    for rel, data in FILES.items():
        path = root / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root / name


def spec_for(model: Path, url: str = "http://127.0.0.1:9/none.zip") -> ModelSpec:
    hashed = ("am/final.mdl", "graph/HCLr.fst", "graph/Gr.fst", "ivector/final.ie")
    return ModelSpec(model.name, url, None,
                     {rel: ((model / rel).stat().st_size, sha256_of(model / rel)) for rel in hashed})


def zip_dir(model: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(model.rglob("*")):
            zf.write(path, path.relative_to(model.parent).as_posix())
    return archive


def test_the_official_hashes_are_recorded() -> None:
    spec = MODELS["small-cn-0.22"]
    assert spec.zip_size == 43_898_754
    assert spec.files["am/final.mdl"] == (
        15_901_896, "91eda2c04c4f599361cb92b0e5298ccdf6b3c7a1fa52bfcefcd2c4e07aa1c131")
    assert set(spec.files) == {"am/final.mdl", "graph/HCLr.fst", "graph/Gr.fst", "ivector/final.ie"}


def test_verify_accepts_the_right_files_and_names_the_wrong_ones(tmp_path: Path) -> None:
    model = fake_model(tmp_path / "src")
    spec = spec_for(model)
    assert verify(model, spec) == []
    (model / "graph" / "Gr.fst").write_bytes(FST + b"GR")  # same size, other content
    (model / "ivector" / "final.ie").unlink()
    assert verify(model, spec) == ["graph/Gr.fst: SHA-256 differs from the published model",
                                   "ivector/final.ie: missing"]


def test_download_from_a_url_and_install(tmp_path: Path) -> None:
    model = fake_model(tmp_path / "src")
    archive = zip_dir(model, tmp_path / "model.zip")
    spec = spec_for(model, archive.as_uri())
    seen: list[int] = []
    path = fetch(spec, tmp_path / "models", timeout_s=5, progress=lambda done, total: seen.append(done))
    assert path == tmp_path / "models" / "vosk-model-test"
    assert verify(path, spec) == []
    assert seen and seen[-1] == archive.stat().st_size
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["vosk-model-test"]  # no leftovers


def test_an_unreachable_url_fails_clearly_and_leaves_nothing(tmp_path: Path) -> None:
    model = fake_model(tmp_path / "src")
    with pytest.raises(FetchError, match=r"cannot download http://127\.0\.0\.1:9/none\.zip.*--zip FILE"):
        fetch(spec_for(model), tmp_path / "models", timeout_s=5)
    assert list((tmp_path / "models").iterdir()) == []


def test_a_zip_with_other_content_is_not_installed(tmp_path: Path) -> None:
    model = fake_model(tmp_path / "src")
    spec = spec_for(model)
    (model / "am" / "final.mdl").write_bytes(b"\x00B<TransitionModel> tampered")
    archive = zip_dir(model, tmp_path / "model.zip")
    with pytest.raises(FetchError, match=r"am/final\.mdl"):
        install(archive, tmp_path / "models", spec)
    assert not (tmp_path / "models" / "vosk-model-test").exists()


def test_a_zip_member_escaping_the_target_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escaped.txt", "x")
    with pytest.raises(FetchError, match="outside the target"):
        install(archive, tmp_path / "models", spec_for(fake_model(tmp_path / "src")))
    assert not (tmp_path / "escaped.txt").exists()


def test_not_a_zip(tmp_path: Path) -> None:
    bogus = tmp_path / "page.zip"
    bogus.write_text("<html>rate limited</html>")
    with pytest.raises(FetchError, match="not a zip"):
        install(bogus, tmp_path / "models", spec_for(fake_model(tmp_path / "src")))


def test_the_command_line_verifies_and_fails_with_status_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--verify", str(tmp_path / "nothing")]) == 1
    assert "does not exist" in capsys.readouterr().err
    wrong = fake_model(tmp_path)
    assert main(["--verify", str(wrong)]) == 1
    assert "am/final.mdl:" in capsys.readouterr().err
    assert main(["--url", "http://127.0.0.1:9/x.zip", "--dest", str(tmp_path / "d"), "--timeout", "5"]) == 1
    assert "cannot download http://127.0.0.1:9/x.zip" in capsys.readouterr().err


def test_the_tools_wrapper_runs() -> None:
    proc = subprocess.run([str(REPO / "tools" / "fetch_vosk_model"), "--verify", "/nonexistent/model"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "NOT the published vosk-model-small-cn-0.22" in proc.stderr
