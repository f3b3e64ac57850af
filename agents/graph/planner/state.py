"""The planner's state: the team's conversation and the plan it writes for the team."""

from agents.graph.state import ConversationState, PlanStep


class PlannerState(ConversationState):
    plan: list[PlanStep]
