"""`Secret` lives in the domain (`bot/domain/secret.py`: the domain may not import this package); its names are
kept here too, so the security package's users keep their one import for everything secret."""

from bot.domain.secret import MIN_KEY_BITS, Secret, TokenBytes, draw, key_weakness

__all__ = ["MIN_KEY_BITS", "Secret", "TokenBytes", "draw", "key_weakness"]
