"""OpenAI-compatible clients for the ring's models, one set per event loop.

An httpx connection pool belongs to the event loop that opened it, and langchain-openai would
otherwise share one cached pool across loops. So each loop gets its own ChatOpenAI per model
(`agentsite.loops`), with our own pool (sized for hundreds of concurrent streams) and no SDK
retries: the ring retries.
"""

from dataclasses import dataclass

import httpx
from langchain_openai import ChatOpenAI

from agents.llm.config import ModelEndpoint, RingPolicy
from agentsite.loops import loop_local

POOL_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=200)


@dataclass(frozen=True)
class ModelClient:
    """ChatOpenAI for building requests and reading answers, and the HTTP pool under it."""

    chat: ChatOpenAI
    http: httpx.AsyncClient
    endpoint: ModelEndpoint


def model_client(endpoint: ModelEndpoint, policy: RingPolicy) -> ModelClient:
    """The client for `endpoint` on the running loop."""

    def connect() -> ModelClient:
        http = httpx.AsyncClient(limits=POOL_LIMITS, timeout=policy.request_timeout)
        chat = ChatOpenAI(
            model=endpoint.name,
            base_url=endpoint.base_url,
            api_key=endpoint.api_key or "not-needed",
            max_retries=0,
            timeout=policy.request_timeout,
            stream_usage=True,
            http_async_client=http,
        )
        return ModelClient(chat, http, endpoint)

    return loop_local(("model-client", endpoint, policy.request_timeout), connect)
