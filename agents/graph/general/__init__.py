"""The general assistant: today's tools (calculator, time, past messages, memory)."""
