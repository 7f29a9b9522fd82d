"""The confidential-conversation key flow of DESIGN §4.3, end to end with real keys."""

import pytest

from bot.security import (
    INSECURE_TEST_ARGON2_PARAMS,
    Context,
    DecryptionError,
    Direction,
    Secret,
    WrappedKey,
    generate_keypair,
    new_receipt_code,
    normalize_code,
    open_sealed,
    open_secret,
    protect_private_key,
    receipt_lookup,
    seal,
    seal_secret,
    unlock_private_key,
    unwrap_with_code,
    wrap_with_code,
)

LOOKUP_PEPPER = Secret(b"l" * 32)
WRAP_PEPPER = Secret(b"w" * 32)


def test_employee_and_counsellor_exchange_messages():
    # Counsellor onboarding: key pair, private key wrapped under the passphrase.
    counsellor = generate_keypair()
    stored_counsellor_key = protect_private_key(
        counsellor.private, Secret("pass phrase"), "c-1", INSECURE_TEST_ARGON2_PARAMS
    ).to_bytes()

    # Employee opens a conversation: conversation key pair, sealed to the counsellor, wrapped under the code.
    code = new_receipt_code()
    conversation = generate_keypair()
    conv_id = "conv-42"
    stored = {
        "lookup": receipt_lookup(code, LOOKUP_PEPPER),
        "public": conversation.public,
        "for_counsellor": seal_secret(
            counsellor.public, conversation.private, context=Context.conversation_key(conv_id, "c-1")
        ),
        "for_code": wrap_with_code(conversation.private, code, WRAP_PEPPER, f"conversation-key:{conv_id}"),
        "msg0": seal(
            conversation.public,
            b"Ik wil graag praten.",
            context=Context.message(conv_id, Direction.EMPLOYEE, 0),
        ),
    }

    # Counsellor reads: unlock own key, open the conversation key, open the message, reply.
    own = unlock_private_key(WrappedKey.from_bytes(stored_counsellor_key), Secret("pass phrase"), "c-1")
    conv_private = open_secret(
        own, stored["for_counsellor"], context=Context.conversation_key(conv_id, "c-1")
    )
    assert open_sealed(
        conv_private, stored["msg0"], context=Context.message(conv_id, Direction.EMPLOYEE, 0)
    ) == (b"Ik wil graag praten.")
    stored["msg1"] = seal(
        stored["public"], b"Welkom.", context=Context.message(conv_id, Direction.COUNSELLOR, 1)
    )

    # Employee returns with the code as typed; finds the conversation and reads the reply.
    typed = normalize_code(code.reveal().lower().replace("-", " "))
    assert receipt_lookup(typed, LOOKUP_PEPPER) == stored["lookup"]
    employee_key = unwrap_with_code(stored["for_code"], typed, WRAP_PEPPER, f"conversation-key:{conv_id}")
    reply_ctx = Context.message(conv_id, Direction.COUNSELLOR, 1)
    assert open_sealed(employee_key, stored["msg1"], context=reply_ctx) == b"Welkom."

    # A reply swapped into the employee's direction or position does not open.
    with pytest.raises(DecryptionError):
        open_sealed(employee_key, stored["msg1"], context=Context.message(conv_id, Direction.EMPLOYEE, 1))
    with pytest.raises(DecryptionError):
        open_sealed(employee_key, stored["msg0"], context=reply_ctx)
