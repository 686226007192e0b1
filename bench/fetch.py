"""Fetch the paper's full datasets into a folder the suite reads with `--data-dir`.

    python -m bench.fetch stackoverflow DIR     # Kaggle StackSample: Questions.csv + Tags.csv
    python -m bench.fetch mjsynth DIR [--url URL] [--sha256 HEX] [--max-images N]

stackoverflow: through the `kaggle` package (not a dependency of the suite: `pip install
kaggle`, or `pip install -e .[fetch]`) with the user's own credentials (~/.kaggle/kaggle.json
or KAGGLE_USERNAME / KAGGLE_KEY) after accepting the data set's terms on its Kaggle page.
Only the two files the suite reads are downloaded (Answers.csv, 1.5 GB more, is not).

mjsynth: the public MJSynth / Synth90k tarball (about 10 GB) streamed with the standard
library: resumed with an HTTP Range request after an interruption (the partial file is kept
as `<name>.part`), a tqdm bar with size and ETA, then verified (sha256 when given; always the
size the server announced and the tar structure) and extracted: only the annotation files,
the lexicon, and the images whose word is already lowercase a-z (the only ones the suite
keeps). A download that fails verification is removed, with an error saying why.

Errors a user can cause (no kaggle package, no credentials, terms not accepted, a bad URL, a
checksum mismatch) print one line and exit with 2.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import re
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm import tqdm

from bench.data.mjsynth import ANNOTATION_FILES, word_from_name
from bench.errors import UserError

KAGGLE_DATASET = "stackoverflow/stacksample"
KAGGLE_FILES = ("Questions.csv", "Tags.csv")
# the official archive (Jaderberg et al. 2014, Visual Geometry Group, Oxford); its sha256 is
# not published there, so by default the download is checked by size and tar structure only
MJSYNTH_URL = "https://thor.robots.ox.ac.uk/~vgg/data/text/mjsynth.tar.gz"
CHUNK = 1 << 20
TIMEOUT_S = 60
_KEEP_NAMES = set(ANNOTATION_FILES) | {"lexicon.txt"}
_LOWER = re.compile(r"[a-z]+")


# ---------------------------------------------------------------------------------------------
# Stack Overflow (Kaggle StackSample)


def fetch_stackoverflow(out: Path, dataset: str = KAGGLE_DATASET) -> list[Path]:
    """Download Questions.csv and Tags.csv of StackSample into `out` with the user's Kaggle
    credentials; returns their paths."""
    try:  # importing kaggle authenticates already (OSError without credentials)
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        api.authenticate()
    except ImportError:
        raise UserError("stackoverflow: the kaggle package is not installed "
                        "(pip install kaggle, or pip install -e .[fetch])") from None
    except (OSError, ValueError) as err:  # kaggle's error for a missing kaggle.json
        raise UserError(f"stackoverflow: no Kaggle credentials ({_first_line(err)}); put "
                        "kaggle.json in ~/.kaggle/ or set KAGGLE_USERNAME and KAGGLE_KEY") from None
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in KAGGLE_FILES:
        try:
            api.dataset_download_file(dataset, name, path=str(out), quiet=False)
        except Exception as err:  # kaggle's ApiException / HTTPError: status says why
            status = getattr(err, "status", None) or getattr(
                getattr(err, "response", None), "status_code", None)
            if status in (401, 403):
                raise UserError(f"stackoverflow: Kaggle refused {dataset}/{name} (HTTP {status}): "
                                f"accept the data set's terms at https://www.kaggle.com/"
                                f"datasets/{dataset} with this account") from None
            raise UserError(f"stackoverflow: downloading {dataset}/{name} failed "
                            f"({_first_line(err)})") from None
        paths.append(_unzip_if_needed(out, name))
    return paths


def _unzip_if_needed(out: Path, name: str) -> Path:
    """Kaggle delivers large files as `<name>.zip`: extract the file and remove the zip."""
    target, archive = out / name, out / f"{name}.zip"
    if archive.exists():
        try:
            with zipfile.ZipFile(archive) as z:
                z.extract(name, out)
        except (zipfile.BadZipFile, KeyError) as err:
            archive.unlink()
            raise UserError(f"{archive}: not a valid download ({err}); removed, run again"
                            ) from None
        archive.unlink()
    if not target.exists():
        raise UserError(f"stackoverflow: {target} missing after the download")
    return target


# ---------------------------------------------------------------------------------------------
# MJSynth (HTTP download with resume)


def download(url: str, dest: Path, sha256: str | None = None) -> Path:
    """Stream `url` to `dest`, resuming `dest.part` with a Range request; verify and rename.

    The size the server announces (Content-Length / Content-Range) must be reached; with
    `sha256` the digest must match. A file that fails either is removed (UserError)."""
    part = dest.with_name(dest.name + ".part")
    if dest.exists():
        _verify(dest, sha256, expected_size=None)
        return dest
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the partial file is already complete
            return _finish(part, dest, sha256, expected_size=have)
        raise UserError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise UserError(f"{url}: cannot connect ({getattr(err, 'reason', err)})") from None
    with response:
        if have and response.status != 206:  # the server ignored Range: start over
            have = 0
        total = _announced_size(response, have)
        free = shutil.disk_usage(dest.parent).free
        if total is not None and free < total - have:
            raise UserError(f"{dest.parent}: {(total - have) / 2**30:.1f} GiB still to download, "
                            f"only {free / 2**30:.1f} GiB free")
        mode = "ab" if have else "wb"
        with part.open(mode) as f, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                        unit_divisor=1024, desc=dest.name) as bar:
            try:
                while block := response.read(CHUNK):
                    f.write(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as err:
                raise UserError(f"{url}: download interrupted after {f.tell()} bytes "
                                f"({_first_line(err)}); run the same command again to resume"
                                ) from None
    return _finish(part, dest, sha256, expected_size=total)


def _announced_size(response, offset: int) -> int | None:
    """The full size of the file: from Content-Range on a 206, else Content-Length."""
    content_range = response.headers.get("Content-Range", "")
    if response.status == 206 and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1]
        return int(tail) if tail.isdigit() else None
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _finish(part: Path, dest: Path, sha256: str | None, expected_size: int | None) -> Path:
    _verify(part, sha256, expected_size)
    part.replace(dest)
    return dest


def _verify(path: Path, sha256: str | None, expected_size: int | None) -> None:
    """Size and sha256 checks; a file failing one is removed with a UserError."""
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        if size < expected_size:
            raise UserError(f"{path}: download interrupted at {size} of {expected_size} bytes; "
                            "run the same command again to resume")
        path.unlink()
        raise UserError(f"{path}: {size} bytes, more than the {expected_size} announced; "
                        "removed, run again")
    if sha256:
        digest = hashlib.sha256()
        with path.open("rb") as f, tqdm(total=size, unit="B", unit_scale=True,
                                        unit_divisor=1024, desc="sha256") as bar:
            while block := f.read(CHUNK):
                digest.update(block)
                bar.update(len(block))
        if digest.hexdigest() != sha256.lower():
            path.unlink()
            raise UserError(f"{path}: sha256 {digest.hexdigest()} does not match --sha256 "
                            f"{sha256}; the corrupt download was removed, run again")


def wanted_member(name: str) -> bool:
    """Annotation files, the lexicon, and images whose word is lowercase a-z (the suite's)."""
    base = name.rsplit("/", 1)[-1]
    if base in _KEEP_NAMES:
        return True
    word = word_from_name(base)
    return word is not None and _LOWER.fullmatch(word) is not None


def extract(archive: Path, out: Path, max_images: int | None = None) -> tuple[int, int]:
    """Extract the members the suite reads (`wanted_member`); returns (images, other files).
    A tarball that does not read to its end is removed (UserError)."""
    images = others = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tqdm(tar, desc="extracting", unit=" files"):
                if not member.isfile() or not wanted_member(member.name):
                    continue
                is_image = member.name.rsplit("/", 1)[-1] not in _KEEP_NAMES
                if is_image and max_images is not None and images >= max_images:
                    continue
                tar.extract(member, out, filter="data")
                images, others = images + is_image, others + (not is_image)
    except (tarfile.TarError, EOFError, OSError) as err:
        archive.unlink(missing_ok=True)
        raise UserError(f"{archive}: not a readable tar archive ({_first_line(err)}); the "
                        "corrupt download was removed, run again") from None
    return images, others


def fetch_mjsynth(out: Path, url: str = MJSYNTH_URL, sha256: str | None = None,
                  max_images: int | None = None, keep_archive: bool = False) -> Path:
    """Download (resumable), verify and extract MJSynth into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    name = url.rstrip("/").rsplit("/", 1)[-1] or "mjsynth.tar.gz"
    archive = download(url, out / name, sha256)
    images, others = extract(archive, out, max_images)
    if others == 0:
        print(f"bench.fetch: warning: {archive} holds no annotation_*.txt; the suite will "
              "read the image files by name", file=sys.stderr)
    if not keep_archive:
        archive.unlink()
    print(f"bench.fetch: {images} images and {others} annotation/lexicon files in {out}",
          file=sys.stderr)
    return out


# ---------------------------------------------------------------------------------------------


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UserError(message)


def main(argv: list[str] | None = None) -> int:
    p = _Parser(prog="python -m bench.fetch", description=__doc__.split("\n\n")[0])
    p.add_argument("dataset", choices=("stackoverflow", "mjsynth"))
    p.add_argument("dir", type=Path, help="folder to fill (then: run_all.py --data-dir DIR)")
    p.add_argument("--url", default=MJSYNTH_URL,
                   help=f"mjsynth: the tarball (default {MJSYNTH_URL})")
    p.add_argument("--sha256", help="mjsynth: expected sha256 of the tarball (default: none "
                   "published; size and tar structure are checked)")
    p.add_argument("--max-images", type=int, help="mjsynth: extract at most N images")
    p.add_argument("--keep-archive", action="store_true", help="mjsynth: keep the tarball")
    p.add_argument("--kaggle-dataset", default=KAGGLE_DATASET,
                   help=f"stackoverflow: the Kaggle data set (default {KAGGLE_DATASET})")
    try:
        args = p.parse_args(argv)
        if args.sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", args.sha256):
            raise UserError(f"--sha256: not 64 hex digits: {args.sha256!r}")
        if args.max_images is not None and args.max_images <= 0:
            raise UserError(f"--max-images: must be a positive integer, got {args.max_images}")
        if args.dataset == "stackoverflow":
            paths = fetch_stackoverflow(args.dir, args.kaggle_dataset)
            print(f"bench.fetch: {', '.join(map(str, paths))}", file=sys.stderr)
        else:
            fetch_mjsynth(args.dir, args.url, args.sha256, args.max_images, args.keep_archive)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
