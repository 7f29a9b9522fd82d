"""Outgoing e-mail: the counsellors' content-free digest over a configurable SMTP server."""
