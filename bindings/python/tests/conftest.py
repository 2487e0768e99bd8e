"""Shared fixtures of the Python tests (run from ctest with PYTHONPATH set to
the built package, ISOTOPE_DATA_DIR to the build's data and ISOTOPE_CLI to
the built command)."""

import hashlib
import json
import os
import subprocess

import pytest

import isotope


def _cli_path():
    path = os.environ.get("ISOTOPE_CLI")
    if path:
        return path
    # Running pytest by hand from a build tree: <build>/python/isotope -> <build>/isotope
    here = os.path.dirname(isotope.__file__)
    return os.path.normpath(os.path.join(here, "..", "..", "isotope"))


@pytest.fixture(scope="session")
def cli():
    path = _cli_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"the isotope command was not found at {path} (set ISOTOPE_CLI)")

    def run(*args, input=None, check=True):
        p = subprocess.run([path, *map(str, args)], input=input, capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"isotope {' '.join(map(str, args))} exited {p.returncode}: {p.stderr}")
        return p

    run.path = path
    return run


@pytest.fixture(scope="session")
def key_path(tmp_path_factory):
    # A fixed key: the statistical checks come out the same on every run (a
    # fresh random key would fail a "not watermarked" check now and then).
    path = tmp_path_factory.mktemp("keys") / "provider.key"
    isotope.Key.from_bytes(hashlib.sha256(b"isotope python test key").digest()).save(str(path))
    return str(path)


@pytest.fixture(scope="session")
def key(key_path):
    return isotope.load_key(key_path)


@pytest.fixture(scope="session")
def tokenizer():
    return isotope.Tokenizer()


@pytest.fixture(scope="session")
def model():
    return isotope.NgramModel()


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]
