"""Which saved KV states the local model keeps, and which one a prompt starts from.

On 2 cores the 1.5B model evaluates a prompt at ~55 tokens/s, so the time to first token is
the prompt tokens that are not already in the KV cache. Requests alternate between chat
sessions and background work (titles, memory extraction, judges: other prompts), so the one
KV cache of the model keeps a prefix only for the request that comes next. A slot is a saved
state: a token prefix and the model's KV state after it (opaque here, see
:class:`~devtools.llmservers.local.backend.LlamaBackend`).

The policy:

* a prompt starts from the slot with the longest common token prefix;
* after a generation its state is stored over the slot it continued (same kind, and whose
  whole prompt starts the new one: the same conversation, one call later -- the saved state is
  then of no more use), else in a free slot, else over the least recently used slot it may
  evict: a chat may evict any slot but the pinned one, background work only background slots,
  so background work never costs a chat its prefix;
* the pinned slot holds a chat's fixed prefix (system prompt and tools, up to the second
  message) for the first turn of every new session; a new fixed prefix replaces it.

The capacity bounds the slots, the pinned one included (each is at most ``n_ctx`` tokens of KV).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_CACHE_SLOTS", "PromptCache", "Slot", "common_prefix"]

DEFAULT_CACHE_SLOTS = 4


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """The number of leading tokens ``a`` and ``b`` share."""
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    return shared


@dataclass(eq=False)
class Slot:
    tokens: list[int]  # in the KV cache of ``state``: a prompt and what was generated after it
    state: Any
    background: bool
    prompt_len: int = 0  # the leading tokens that were the prompt
    pinned: bool = False
    used: int = 0  # the cache's clock when it was last started from or stored


class PromptCache:
    """Saved states by token prefix (module docstring). Not thread-safe: the backend's one
    worker thread uses it."""

    def __init__(self, capacity: int = DEFAULT_CACHE_SLOTS) -> None:
        self.capacity = max(0, capacity)
        self.slots: list[Slot] = []
        self._clock = 0

    def _touch(self, slot: Slot) -> None:
        self._clock += 1
        slot.used = self._clock

    def longest(self, tokens: Sequence[int]) -> tuple[Slot | None, int]:
        """The slot sharing the most leading tokens with ``tokens`` and how many (the most
        recently used on a tie); ``(None, 0)`` when none shares any."""
        matches = [(common_prefix(s.tokens, tokens), s.used, s) for s in self.slots]
        shared, _, best = max(matches, key=lambda m: m[:2], default=(0, 0, None))
        if not shared or best is None:
            return None, 0
        self._touch(best)
        return best, shared

    def store(
        self, prompt: Sequence[int], tokens: list[int], state: Any, *, background: bool
    ) -> Slot | None:
        """Keep ``state`` (holding ``tokens``) after a generation of ``prompt`` (module
        docstring); None when every slot it may take is out of its reach (background work with
        no background slot and no free one)."""
        slot = self._continued(prompt, background) or self._free_or_evicted(background)
        if slot is None:
            return None
        slot.tokens, slot.state, slot.background = tokens, state, background
        slot.prompt_len = min(len(prompt), len(tokens))
        self._touch(slot)
        return slot

    def pin(self, tokens: list[int], state: Any) -> Slot | None:
        """Keep a chat's fixed prefix in the pinned slot (replacing the one before)."""
        slot = next((s for s in self.slots if s.pinned), None) or self._free_or_evicted(False)
        if slot is None:
            return None
        slot.tokens, slot.state, slot.background, slot.pinned = tokens, state, False, True
        slot.prompt_len = len(tokens)
        self._touch(slot)
        return slot

    def _continued(self, prompt: Sequence[int], background: bool) -> Slot | None:
        """The slot of the same kind whose whole prompt starts ``prompt``."""
        continued = [
            s
            for s in self.slots
            if not s.pinned
            and s.background == background
            and s.prompt_len
            and common_prefix(s.tokens, prompt) >= s.prompt_len
        ]
        return max(continued, key=lambda s: s.prompt_len, default=None)

    def _free_or_evicted(self, background: bool) -> Slot | None:
        if len(self.slots) < self.capacity:
            slot = Slot([], None, background)
            self.slots.append(slot)
            return slot
        evictable = [s for s in self.slots if not s.pinned and (s.background or not background)]
        return min(evictable, key=lambda s: s.used, default=None)

    def clear(self) -> None:
        self.slots.clear()
