"""Tests for devtools.llmservers.local.weights and .gguf (no Django needed).

Run: .venv/bin/python -m pytest devtools/tests/test_local_model.py -q -p no:django
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from devtools.llmservers.local import gguf
from devtools.llmservers.local import weights as lm
from devtools.llmservers.local.errors import (
    LocalModelError,
    ModelIntegrityError,
    ModelPartsMissingError,
)

# --- a tiny GGUF writer ---------------------------------------------------------------------


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _kv_str(key: str, value: str) -> bytes:
    return _s(key) + struct.pack("<I", 8) + _s(value)


def _kv_u32(key: str, value: int) -> bytes:
    return _s(key) + struct.pack("<I", 4) + struct.pack("<I", value)


def _kv_bool(key: str, value: bool) -> bytes:
    return _s(key) + struct.pack("<I", 7) + struct.pack("<?", value)


def _kv_f32(key: str, value: float) -> bytes:
    return _s(key) + struct.pack("<I", 6) + struct.pack("<f", value)


def _kv_str_array(key: str, items: list[str]) -> bytes:
    return _s(key) + struct.pack("<IIQ", 9, 8, len(items)) + b"".join(_s(i) for i in items)


def _kv_i32_array(key: str, items: list[int]) -> bytes:
    return _s(key) + struct.pack("<IIQ", 9, 5, len(items)) + struct.pack(f"<{len(items)}i", *items)


def gguf_bytes(
    *,
    magic: bytes = b"GGUF",
    arch: str = "qwen2",
    name: str = "Qwen2.5 Coder 0.5B Instruct",
    file_type: int = 15,
    ctx: int = 32768,
    tensors: int = 3,
    tail: bytes = b"\0" * 64,
) -> bytes:
    kvs = [
        _kv_str("general.architecture", arch),
        _kv_str("general.name", name),
        _kv_u32(f"{arch}.context_length", ctx),
        _kv_f32(f"{arch}.rope.freq_base", 1e6),
        _kv_u32("general.file_type", file_type),
        _kv_str_array("tokenizer.ggml.tokens", ["a", "b", "<|im_end|>"]),
        _kv_i32_array("tokenizer.ggml.token_type", [1, 1, 3]),
        _kv_bool("tokenizer.ggml.add_bos_token", False),
    ]
    head = magic + struct.pack("<IQQ", 3, tensors, len(kvs))
    return head + b"".join(kvs) + tail


EXPECT = gguf.GGUFMetadataExpectation(
    architecture="qwen2", file_type=15, name_contains=("Qwen2.5", "Coder"), context_length=32768
)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- GGUF reader ----------------------------------------------------------------------------


def test_reads_valid_gguf(tmp_path):
    data = gguf_bytes()
    path = write(tmp_path / "m.gguf", data)
    header = gguf.check_gguf(path, EXPECT)
    assert header.version == 3
    assert header.tensor_count == 3
    meta = header.metadata
    assert meta["general.architecture"] == "qwen2"
    assert meta["general.file_type"] == 15
    assert meta["qwen2.context_length"] == 32768
    assert meta["qwen2.rope.freq_base"] == pytest.approx(1e6)
    assert meta["tokenizer.ggml.tokens"] == gguf.GGUFArray(item_type=8, length=3)
    assert meta["tokenizer.ggml.token_type"] == gguf.GGUFArray(item_type=5, length=3)
    assert meta["tokenizer.ggml.add_bos_token"] is False
    assert header.kv_end == len(data) - 64  # stopped right after the kv section


def test_wrong_magic(tmp_path):
    path = write(tmp_path / "m.gguf", gguf_bytes(magic=b"GGML"))
    with pytest.raises(ModelIntegrityError, match="not a GGUF file"):
        gguf.read_gguf_metadata(path)


def test_wrong_architecture(tmp_path):
    path = write(tmp_path / "m.gguf", gguf_bytes(arch="llama"))
    with pytest.raises(ModelIntegrityError, match=r"general\.architecture is 'llama'"):
        gguf.check_gguf(path, EXPECT)
    # a user-supplied file is checked for its architecture too
    with pytest.raises(ModelIntegrityError, match="architecture"):
        gguf.check_gguf(path, EXPECT, strict=False)


def test_wrong_file_type_and_name_only_in_strict_mode(tmp_path):
    path = write(tmp_path / "m.gguf", gguf_bytes(file_type=7, name="Some Llama"))
    with pytest.raises(ModelIntegrityError, match=r"general\.file_type is 7") as err:
        gguf.check_gguf(path, EXPECT)
    assert "general.name" in str(err.value)
    gguf.check_gguf(path, EXPECT, strict=False)


@pytest.mark.parametrize("cut", [3, 10, 30, 60, 100, -70])
def test_truncated(tmp_path, cut):
    data = gguf_bytes()
    path = write(tmp_path / "m.gguf", data[:cut])
    with pytest.raises(ModelIntegrityError):
        gguf.read_gguf_metadata(path)


def test_implausible_counts(tmp_path):
    data = bytearray(gguf_bytes())
    data[16:24] = struct.pack("<Q", 2**40)  # kv count
    path = write(tmp_path / "m.gguf", bytes(data))
    with pytest.raises(ModelIntegrityError, match="implausible"):
        gguf.read_gguf_metadata(path)


# --- assemble -------------------------------------------------------------------------------


def fake_model(tmp_path: Path, n_parts: int = 3) -> tuple[lm.ModelSpec, list[Path]]:
    data = gguf_bytes(tail=os.urandom(4096))
    step = len(data) // n_parts + 1
    parts_dir = tmp_path / "parts"
    parts_dir.mkdir()
    parts = [
        write(parts_dir / f"part{i + 1:02d}.bin", data[i * step : (i + 1) * step])
        for i in range(n_parts)
    ]
    spec = lm.ModelSpec(
        key="fake",
        filename="fake.gguf",
        parts=tuple(lm.PartPin(f"fake-part{i}", "1.0") for i in range(1, n_parts + 1)),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        expect=EXPECT,
        requirements_file="requirements/fake.txt",
    )
    return spec, parts


@pytest.fixture
def fake(tmp_path, monkeypatch):
    spec, parts = fake_model(tmp_path)
    monkeypatch.setattr(lm, "part_files", lambda s: parts)
    return spec, parts


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.endswith(".partial"))


def test_assemble_once(fake, tmp_path):
    spec, parts = fake
    cache = tmp_path / "cache"
    out = lm.assemble(spec, cache)
    assert out == cache / "fake.gguf"
    assert out.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert (cache / "fake.gguf.sha256").read_text().split()[0] == spec.sha256
    assert leftovers(cache) == []

    before = out.stat().st_mtime_ns
    assert lm.assemble(spec, cache) == out
    assert lm.assemble(spec, cache, verify=True) == out
    assert out.stat().st_mtime_ns == before  # not rewritten


def test_assemble_verify_rebuilds_altered_cache(fake, tmp_path):
    spec, _ = fake
    cache = tmp_path / "cache"
    out = lm.assemble(spec, cache)
    good = out.read_bytes()
    with out.open("r+b") as fh:  # same size, different bytes
        fh.seek(len(good) - 1)
        fh.write(bytes([good[-1] ^ 0xFF]))
    assert lm.assemble(spec, cache).read_bytes() != good  # trusted without verify
    assert lm.assemble(spec, cache, verify=True).read_bytes() == good


def test_hash_mismatch_deletes_temp_and_raises(fake, tmp_path):
    spec, _ = fake
    cache = tmp_path / "cache"
    bad = replace(spec, sha256="0" * 64)
    with pytest.raises(ModelIntegrityError, match="sha256 of the assembled parts") as err:
        lm.assemble(bad, cache)
    assert spec.sha256 in str(err.value)
    assert list(cache.iterdir()) == []  # no temp file, no final file


def test_parts_in_wrong_order_fail(fake, tmp_path, monkeypatch):
    spec, parts = fake
    monkeypatch.setattr(lm, "part_files", lambda s: list(reversed(parts)))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        lm.assemble(spec, tmp_path / "cache")
    assert not (tmp_path / "cache" / "fake.gguf").exists()


def test_size_mismatch_fails_before_writing(fake, tmp_path):
    spec, _ = fake
    with pytest.raises(ModelIntegrityError, match="add up to"):
        lm.assemble(replace(spec, size=spec.size + 1), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_metadata_mismatch_deletes_temp(fake, tmp_path):
    spec, _ = fake
    cache = tmp_path / "cache"
    other = replace(spec, expect=replace(EXPECT, name_contains=("1.5B",)))
    with pytest.raises(ModelIntegrityError, match=r"general\.name"):
        lm.assemble(other, cache)
    assert list(cache.iterdir()) == []


def test_missing_or_wrong_version_part_says_what_to_install():
    spec = lm.ModelSpec(
        key="x",
        filename="x.gguf",
        parts=(lm.PartPin("surely-not-installed-part1", "1.0"),),
        sha256="0" * 64,
        size=1,
        expect=EXPECT,
        requirements_file="requirements/test-model.txt",
    )
    with pytest.raises(ModelPartsMissingError, match="pip install -r requirements/test-model"):
        lm.part_files(spec)
    wrong = replace(spec, parts=(lm.PartPin("pytest", "0.0.1"),))
    with pytest.raises(ModelPartsMissingError, match=r"pytest .* is installed but 0\.0\.1"):
        lm.part_files(wrong)


def test_local_model_path_env(fake, tmp_path, monkeypatch):
    spec, _ = fake
    user = write(tmp_path / "mine.gguf", gguf_bytes(name="My own finetune", file_type=1))
    monkeypatch.setenv("LOCAL_LLM_PATH", str(user))
    assert lm.local_model_path(spec) == user  # no hash / name / file type check
    write(user, gguf_bytes(arch="llama"))
    with pytest.raises(ModelIntegrityError, match="architecture"):
        lm.local_model_path(spec)
    monkeypatch.setenv("LOCAL_LLM_PATH", str(tmp_path / "nope.gguf"))
    with pytest.raises(LocalModelError, match="not a file"):
        lm.local_model_path(spec)

    monkeypatch.delenv("LOCAL_LLM_PATH")
    monkeypatch.setenv("LOCAL_LLM_CACHE", str(tmp_path / "envcache"))
    assert lm.local_model_path(spec) == tmp_path / "envcache" / "fake.gguf"
    monkeypatch.delenv("LOCAL_LLM_CACHE")
    assert lm.default_cache_dir() == Path(lm.__file__).resolve().parents[3] / ".data" / "models"


def test_real_specs_are_consistent():
    for spec in (lm.QWEN25_CODER_1_5B, lm.QWEN25_CODER_0_5B):
        assert len(spec.sha256) == 64
        assert spec.expect.architecture == "qwen2"
        assert spec.expect.file_type == 15
        assert spec.filename.endswith(".gguf")
        req = Path(lm.PROJECT_ROOT, spec.requirements_file).read_text().split()
        assert "llama-cpp-python==0.3.36" in req
        for pin in spec.parts:
            assert pin.requirement in req


# --- the real 0.5B model --------------------------------------------------------------------


@pytest.mark.local_model
def test_real_small_model_assembles_and_generates(tmp_path):
    # CI installs requirements/test-model.txt: this is not skipped when the parts are missing.
    spec = lm.QWEN25_CODER_0_5B
    path = lm.assemble(spec, tmp_path)
    assert path.stat().st_size == spec.size
    meta = gguf.read_gguf_metadata(path).metadata
    assert meta["general.architecture"] == "qwen2"
    assert meta["general.file_type"] == 15

    llm = lm.load_llama(path, n_ctx=512, n_threads=os.cpu_count())
    out = llm.create_chat_completion(
        messages=[{"role": "user", "content": "Say hello"}], max_tokens=8, temperature=0.0
    )
    text = out["choices"][0]["message"]["content"]
    assert text.strip()
