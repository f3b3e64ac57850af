"""Our OpenAI-compatible server for the embedded local model (llama.cpp through llama-cpp-python).

``python -m devtools.llmservers.local --port 8800`` serves it (no Django needed); ``manage.py
serve_local_llm`` is a thin wrapper with the same arguments (:func:`add_arguments`). In tests,
:func:`running_local_server` serves it in a thread. ``llama_cpp.server`` is not used: it mangles
streamed tool calls and ignores automatic tool choice.

The modules, from the wire inwards: :mod:`.cli` (the command line), :mod:`.serving` (in a thread
or in the foreground), :mod:`.server` (the ASGI app and its scheduling), :mod:`.turn` (one
request: generations, retries, repeated calls), :mod:`.toolcalls` (calls in the model's text),
:mod:`.grammar` (grammars that calls and JSON answers are generated under), :mod:`.markup`
(protocol markup kept out of answers and prompts),
:mod:`.conversation` (messages for the chat template), :mod:`.backend` (llama.cpp),
:mod:`.prompt_cache` (which saved KV states are kept, and which one a prompt starts from), and the
weights: :mod:`.weights` (pinned, assembled, loaded), :mod:`.gguf` (their header check),
:mod:`.errors`.
"""

from devtools.llmservers.local.backend import (
    DEFAULT_N_CTX,
    DEFAULT_TEMPERATURE,
    GenParams,
    GenResult,
    LlamaBackend,
    default_n_threads,
    gen_params,
    load_backend,
)
from devtools.llmservers.local.cli import add_arguments, build_parser, main, run_from_options
from devtools.llmservers.local.conversation import (
    ToolResult,
    answer_now_messages,
    template_messages,
    tool_results,
)
from devtools.llmservers.local.errors import LocalModelError
from devtools.llmservers.local.server import LocalServer, LocalServerConfig
from devtools.llmservers.local.serving import LocalServerHandle, running_local_server, serve
from devtools.llmservers.local.toolcalls import (
    REQUIRED_PREFILL,
    ParsedCall,
    ParsedOutput,
    ToolCallStream,
    parse_tool_output,
)
from devtools.llmservers.local.turn import UNREADABLE_CALL
from devtools.llmservers.local.weights import (
    DEFAULT_MODEL_NAME,
    SPEC_ALIASES,
    TEST_SPEC,
    local_model_path,
    model_name_for,
    resolve_spec,
)

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_N_CTX",
    "DEFAULT_TEMPERATURE",
    "REQUIRED_PREFILL",
    "SPEC_ALIASES",
    "TEST_SPEC",
    "UNREADABLE_CALL",
    "GenParams",
    "GenResult",
    "LlamaBackend",
    "LocalModelError",
    "LocalServer",
    "LocalServerConfig",
    "LocalServerHandle",
    "ParsedCall",
    "ParsedOutput",
    "ToolCallStream",
    "ToolResult",
    "add_arguments",
    "answer_now_messages",
    "build_parser",
    "default_n_threads",
    "gen_params",
    "load_backend",
    "local_model_path",
    "main",
    "model_name_for",
    "parse_tool_output",
    "resolve_spec",
    "run_from_options",
    "running_local_server",
    "serve",
    "template_messages",
    "tool_results",
]
