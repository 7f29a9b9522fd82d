"""The portal: the external confidential channel for employees (`/portal/{organisation}`), outside the
employer's Slack or Teams. Routes are mounted by `bot.web.portal.routes.install`.
"""
