"""xAI's Grok (or any OpenAI-compatible chat-completions server): structured narratives for review cases."""
