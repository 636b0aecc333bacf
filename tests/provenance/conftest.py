"""Provenance fixtures: development credentials generated at test time (no binary blobs)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from labeler.provenance.devca import DevPaths, init_dev_credentials, make_dev_chain
from labeler.settings import C2paSettings


@pytest.fixture
def dev(tmp_path: Path) -> DevPaths:
    return init_dev_credentials(tmp_path / "config")


@pytest.fixture
def c2pa_settings(dev: DevPaths, tmp_path: Path) -> C2paSettings:
    return C2paSettings(cert_chain=dev.chain, private_key=dev.key, manifest_dir=tmp_path / "manifests")


def write_chain(directory: Path, name: str, **kwargs: dt.datetime) -> tuple[C2paSettings, Path]:
    """Another dev chain (e.g. short-lived or from an untrusted CA): its signing settings and CA file."""
    chain = make_dev_chain(**kwargs)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.pem").write_bytes(chain.chain_pem)
    (directory / f"{name}.key").write_bytes(chain.key_pem)
    (directory / f"{name}-ca.pem").write_bytes(chain.ca_pem)
    settings = C2paSettings(cert_chain=directory / f"{name}.pem", private_key=directory / f"{name}.key")
    return settings, directory / f"{name}-ca.pem"


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh per-test config/data home for CLI runs (`keys init` writes its credentials there) and no
    key from the environment; returns the path `keys init --path` should use."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("LABELER_KEY", raising=False)
    monkeypatch.delenv("LABELER_KEY_FILE", raising=False)
    return tmp_path / "keys" / "watermark.key"
