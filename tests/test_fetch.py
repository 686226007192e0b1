"""bench.fetch against a local HTTP server (127.0.0.1 only) and a stand-in kaggle package."""

from __future__ import annotations

import hashlib
import http.server
import io
import random
import sys
import tarfile
import threading
import types
from pathlib import Path

import pytest

from bench import fetch


def _tarball() -> bytes:
    """A small Synth90k-like archive: annotations, lexicon, a lowercase and an uppercase image."""
    buf, rng = io.BytesIO(), random.Random(0)
    root = "mnt/ramdisk/max/90kDICT32px"
    files = {f"{root}/annotation_train.txt": b"./1/1/7_apple_3.jpg 3\n./1/1/8_APPLE_4.jpg 4\n",
             f"{root}/lexicon.txt": b"a\nb\n",
             f"{root}/1/1/7_apple_3.jpg": b"\xff\xd8 fake" + rng.randbytes(150_000),
             f"{root}/1/1/8_APPLE_4.jpg": b"\xff\xd8 other" + rng.randbytes(150_000),
             f"{root}/imlist.txt": b"not read by the suite\n"}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class _Server:
    """Serves `payload` at /mjsynth.tar.gz with Range support; `cut_after` truncates the next
    full response (an interrupted connection); `ranges` logs the Range headers seen."""

    def __init__(self, payload: bytes):
        self.payload, self.cut_after, self.ranges = payload, None, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.ranges.append(self.headers.get("Range"))
                data, start = outer.payload, 0
                header = self.headers.get("Range")
                if header:
                    start = int(header.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.cut_after is not None:
                    body, outer.cut_after = body[: outer.cut_after], None
                    self.wfile.write(body)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mjsynth.tar.gz"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server(_tarball())
    yield s
    s.close()


def test_download_resumes_after_interruption_and_extracts_what_the_suite_reads(server, tmp_path):
    payload = server.payload
    server.cut_after = len(payload) // 3
    with pytest.raises(fetch.UserError, match="interrupted.*resume"):
        fetch.download(server.url, tmp_path / "mjsynth.tar.gz")
    part = tmp_path / "mjsynth.tar.gz.part"
    assert part.stat().st_size == len(payload) // 3
    sha = hashlib.sha256(payload).hexdigest()
    rc = fetch.main(["mjsynth", str(tmp_path), "--url", server.url, "--sha256", sha])
    assert rc == 0
    assert server.ranges == [None, f"bytes={len(payload) // 3}-"]  # the second one resumed
    root = tmp_path / "mnt/ramdisk/max/90kDICT32px"
    assert (root / "annotation_train.txt").exists() and (root / "lexicon.txt").exists()
    assert (root / "1/1/7_apple_3.jpg").read_bytes().startswith(b"\xff\xd8 fake")
    assert not (root / "1/1/8_APPLE_4.jpg").exists()  # uppercase words: dropped by the suite
    assert not (root / "imlist.txt").exists()
    assert not part.exists() and not (tmp_path / "mjsynth.tar.gz").exists()


def test_complete_part_file_is_finished_on_416(server, tmp_path):
    (tmp_path / "mjsynth.tar.gz.part").write_bytes(server.payload)
    out = fetch.download(server.url, tmp_path / "mjsynth.tar.gz")
    assert out.read_bytes() == server.payload


def test_checksum_mismatch_removes_the_download(server, tmp_path, capsys):
    rc = fetch.main(["mjsynth", str(tmp_path), "--url", server.url, "--sha256", "0" * 64])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2 and err.startswith("error: ") and "does not match --sha256" in err
    assert list(tmp_path.iterdir()) == []


def test_corrupt_tarball_is_rejected_and_removed(server, tmp_path, capsys):
    server.payload = b"this is not a tarball " * 100
    rc = fetch.main(["mjsynth", str(tmp_path), "--url", server.url])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2 and "not a readable tar archive" in err and "removed" in err
    assert list(tmp_path.iterdir()) == []


def test_too_little_disk_space_is_a_user_error(server, tmp_path, monkeypatch):
    monkeypatch.setattr(fetch.shutil, "disk_usage", lambda p: types.SimpleNamespace(free=10))
    with pytest.raises(fetch.UserError, match="GiB still to download, only 0.0 GiB free"):
        fetch.download(server.url, tmp_path / "mjsynth.tar.gz")
    assert list(tmp_path.iterdir()) == []


def test_max_images_limits_extraction(server, tmp_path):
    assert fetch.main(["mjsynth", str(tmp_path), "--url", server.url, "--max-images", "1"]) == 0
    jpgs = list(tmp_path.rglob("*.jpg"))
    assert len(jpgs) == 1


@pytest.mark.parametrize("argv, message", [
    (["mjsynth", "x", "--sha256", "abc"], "--sha256: not 64 hex digits"),
    (["mjsynth", "x", "--max-images", "0"], "--max-images: must be a positive"),
    (["imagenet", "x"], "invalid choice"),
])
def test_bad_options_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fetch.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_unreachable_url_is_a_user_error(tmp_path, capsys):
    # port 9 on 127.0.0.1 (discard): nothing listens in the test environment
    rc = fetch.main(["mjsynth", str(tmp_path), "--url", "http://127.0.0.1:9/x.tar.gz"])
    assert rc == 2 and "cannot connect" in capsys.readouterr().err


# ---- stackoverflow through a stand-in kaggle package ---------------------------------------


def _fake_kaggle(monkeypatch, authenticate=None, download=None):
    class KaggleApi:
        def authenticate(self):
            if authenticate:
                authenticate()

        def dataset_download_file(self, dataset, name, path, quiet):
            download(dataset, name, Path(path))

    module = types.ModuleType("kaggle.api.kaggle_api_extended")
    module.KaggleApi = KaggleApi
    for name in ("kaggle", "kaggle.api"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "kaggle.api.kaggle_api_extended", module)


def test_stackoverflow_without_kaggle_package(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "kaggle", None)  # import fails
    assert fetch.main(["stackoverflow", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "kaggle package is not installed" in err


def test_stackoverflow_without_credentials(monkeypatch, tmp_path, capsys):
    def no_creds():
        raise OSError("Could not find kaggle.json. Make sure it's located in ~/.kaggle")

    _fake_kaggle(monkeypatch, authenticate=no_creds)
    assert fetch.main(["stackoverflow", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no Kaggle credentials" in err


def test_stackoverflow_import_time_authentication_failure(monkeypatch, tmp_path, capsys):
    class Authenticating(types.ModuleType):  # the real kaggle authenticates on import
        def __getattr__(self, name):
            raise OSError("Could not find kaggle.json")

    for name in ("kaggle", "kaggle.api"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "kaggle.api.kaggle_api_extended",
                        Authenticating("kaggle.api.kaggle_api_extended"))
    assert fetch.main(["stackoverflow", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no Kaggle credentials" in err


def test_stackoverflow_terms_not_accepted(monkeypatch, tmp_path, capsys):
    class ApiException(Exception):
        status = 403

    def refuse(dataset, name, path):
        raise ApiException("Forbidden")

    _fake_kaggle(monkeypatch, download=refuse)
    assert fetch.main(["stackoverflow", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "accept the data set's terms" in err


def test_stackoverflow_downloads_and_unzips(monkeypatch, tmp_path):
    import zipfile

    def deliver(dataset, name, path):
        assert dataset == "stackoverflow/stacksample"
        with zipfile.ZipFile(path / f"{name}.zip", "w") as z:
            z.writestr(name, "Id,Title\n1,x\n")

    _fake_kaggle(monkeypatch, download=deliver)
    assert fetch.main(["stackoverflow", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Questions.csv", "Tags.csv"]
