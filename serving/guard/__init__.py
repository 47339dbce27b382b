"""Input and output safety: a fine-tuned classifier and rules for prompt injection and data exfiltration."""
