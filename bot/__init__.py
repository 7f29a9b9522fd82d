"""vipbot: Slack and Microsoft Teams bot for the proactive confidential counsellor."""

__version__ = "0.1.0"
