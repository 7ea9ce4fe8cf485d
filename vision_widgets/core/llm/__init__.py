"""The LLM Chat's domain: the client of an OpenAI-compatible endpoint, the context built from a model's
stored aggregates, the read-only tools, the deterministic summary, the FAQ and the chat log.

Nothing here imports a service: ``services/llm_chat.py`` gathers the model's numbers through the
existing services (with the asking principal's permissions) and hands them down as data.
"""
