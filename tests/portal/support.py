"""Helpers for the confidential channel's tests: an organisation with a counsellor and a deputy."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from bot.app import Services
from bot.domain.tenancy import CounsellorRole, Organisation
from bot.security import INSECURE_TEST_ARGON2_PARAMS, Secret
from bot.web.portal.channel import ConfidentialChannel

PASSPHRASE = "correct horse battery staple"
DEPUTY_PASSPHRASE = "deputy passphrase for tests"


@dataclass
class Practice:
    channel: ConfidentialChannel
    org: Organisation
    counsellor_id: UUID
    deputy_id: UUID


async def practice(services: Services, slug: str = "de-linde", *, deputy: bool = True) -> Practice:
    org = await services.organisations.add_organisation(
        "Zorggroep De Linde", slug, "Europe/Amsterdam", "nl", 90
    )
    channel = ConfidentialChannel(
        services.engine, services.settings, services.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    counsellor_id = await channel.add_counsellor(org.id, "Mira Jansen", "mira@vp.test", Secret(PASSPHRASE))
    deputy_id = counsellor_id
    if deputy:
        deputy_id = await channel.add_counsellor(
            org.id, "Daan de Vries", "daan@vp.test", Secret(DEPUTY_PASSPHRASE), CounsellorRole.DEPUTY
        )
    return Practice(channel, org, counsellor_id, deputy_id)
