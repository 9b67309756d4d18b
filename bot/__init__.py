"""Self-hosted customer-support chatbot."""
