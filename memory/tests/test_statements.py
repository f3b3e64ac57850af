"""Which messages a local model mines for memories (memory/statements.py)."""

import pytest

from memory.statements import tells_about_oneself


@pytest.mark.parametrize(
    "text",
    [
        "My name is Ada and I love sailing. Remember that.",
        "I\u2019m allergic to peanuts, please remember that.",
        "I parked on level 3, spot B12.",
        "We moved to Porto last year.",
        "Remind me: my sister Mia lives in Oslo",
        "What time is it? I live in Lisbon, by the way.",
    ],
)
def test_a_statement_in_the_first_person_is_read(text):
    assert tells_about_oneself(text)


@pytest.mark.parametrize(
    "text",
    [
        "What is 17*23?",
        "What hobby do I love?",
        "Can you search my past messages for where I parked?",
        "Hi! How are you today?",
        "Tell me a joke.",
        "What time is it in Tokyo?",
        "Thanks!",
        "Mine?",
    ],
)
def test_questions_requests_and_greetings_are_not(text):
    assert not tells_about_oneself(text)
