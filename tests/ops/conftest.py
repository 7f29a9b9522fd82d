from tests.doubles.slack_api import slack_api  # noqa: F401
from tests.doubles.smtp_sink import smtp_sink  # noqa: F401
