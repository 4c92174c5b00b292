from weaver.llm import ChatMessage, chat_messages


def test_adjacent_turns_of_one_role_are_merged_after_the_system_message() -> None:
    messages = chat_messages("be brief", [("user", "a"), ("user", "b"), ("assistant", "c"), ("user", "d")])
    assert messages == (
        ChatMessage("system", "be brief"),
        ChatMessage("user", "a\n\nb"),
        ChatMessage("assistant", "c"),
        ChatMessage("user", "d"),
    )
