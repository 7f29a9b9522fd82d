"""Running vipbot: checking a deployment end to end (`vipbot doctor`), backing it up and restoring it."""
