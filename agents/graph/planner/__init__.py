"""The planner: splits a multi-step request into steps and hands each to a specialist."""
