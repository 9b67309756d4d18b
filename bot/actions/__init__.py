"""Business actions: HTTP calls to the shop's backend bound to intents, with slots and replies."""
