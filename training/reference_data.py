"""Public reference datasets (CLINC150, XSTest): where each file comes from, its licence and checksum.

They are read from one folder (`CONVBOT_REFERENCE_DATA`, see `pipelines/settings.py`); `make
reference-data` downloads whatever is missing from its public source and keeps a file only when its
sha256 matches the pinned one, so every benchmark and test reads exactly the data it was written for.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import ConvbotError
from .fileio import sha256_file


class ReferenceDataError(ConvbotError):
    """A reference file is missing, or its content is not the pinned version."""


@dataclass(frozen=True)
class ReferenceFile:
    path: str  # relative to the reference data folder
    url: str
    sha256: str
    dataset: str
    licence: str
    citation: str


_CLINC = ("CC BY 3.0", "Larson et al., An Evaluation Dataset for Intent Classification and Out-of-Scope "
                       "Prediction, EMNLP 2019 (github.com/clinc/oos-eval)")
_XSTEST = ("CC BY 4.0", "Röttger et al., XSTest: A Test Suite for Identifying Exaggerated Safety Behaviours in "
                        "Large Language Models, NAACL 2024 (github.com/paul-rottger/exaggerated-safety)")

FILES: dict[str, ReferenceFile] = {f.path: f for f in [
    ReferenceFile("clinc150/data_full.json",
                  "https://raw.githubusercontent.com/clinc/oos-eval/master/data/data_full.json",
                  "36923c3705a59e08fe9c3883d8bc2dd966ef93e22cb78ac41171782a698d56e0", "CLINC150", *_CLINC),
    ReferenceFile("clinc150/domains.json",
                  "https://raw.githubusercontent.com/clinc/oos-eval/master/data/domains.json",
                  "b947b579d3b8e74b06f93b01083d8efaff2888b43a3e362533bd88a6e1211b3a", "CLINC150", *_CLINC),
    ReferenceFile("xstest/xstest_prompts.csv",
                  "https://raw.githubusercontent.com/paul-rottger/exaggerated-safety/main/xstest_prompts.csv",
                  "11783fb294ed017473ee53c207d71f2161c7672c8d0b037501e78387f801cb5a", "XSTest", *_XSTEST),
]}


def locate(root: str | os.PathLike, name: str) -> Path:
    """The path of reference file `name` under `root`; a clear error when it is not there."""
    if name not in FILES:
        raise ReferenceDataError(f"unknown reference file '{name}' (known: {', '.join(sorted(FILES))})")
    path = Path(root, name)
    if not path.is_file():
        raise ReferenceDataError(f"reference file {path} is missing: run `make reference-data` to download "
                                 f"{FILES[name].dataset} ({FILES[name].licence}) from {FILES[name].url}, "
                                 "or point CONVBOT_REFERENCE_DATA at a folder that has it")
    return path


def _download(url: str, timeout: float = 60.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - pinned https sources
        return response.read()


def fetch_missing(root: str | os.PathLike, names: list[str] | None = None,
                  download: Callable[[str], bytes] = _download, log: Callable[[str], None] = print) -> list[Path]:
    """Download each missing file, keep it only when its sha256 is the pinned one; verify the present ones.

    Returns the files written. A file already present with the wrong content is an error, not replaced:
    somebody changed the data a score was reported on."""
    root = Path(root)
    written = []
    for name in names or sorted(FILES):
        ref = FILES[name]
        path = root / ref.path
        if path.is_file():
            got = sha256_file(path)
            if got != ref.sha256:
                raise ReferenceDataError(f"{path}: sha256 {got} is not the pinned {ref.sha256}; "
                                         "remove the file to download the published version again")
            log(f"ok       {ref.path}")
            continue
        log(f"fetching {ref.path} from {ref.url}")
        blob = download(ref.url)
        got = hashlib.sha256(blob).hexdigest()
        if got != ref.sha256:
            raise ReferenceDataError(f"{ref.url}: downloaded content has sha256 {got}, expected {ref.sha256}; "
                                     "nothing was written")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.write_bytes(blob)
        os.replace(tmp, path)
        written.append(path)
    return written
