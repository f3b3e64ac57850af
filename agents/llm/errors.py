"""What the ring raises when it can't answer: the only LLM errors other apps need to know."""


class LLMUnavailableError(Exception):
    """No model of the ring could answer within the budget. The message is safe to show."""

    def __init__(self, detail: str, last_reason: str = ""):
        super().__init__(detail)
        self.last_reason = last_reason


class LLMRequestError(Exception):
    """The request itself was refused (too long, malformed): no model would do better."""

    def __init__(self, detail: str, reason: str):
        super().__init__(detail)
        self.reason = reason
