"""`kc serve`: the compiled knowledge behind an OpenAI-compatible HTTP endpoint.

- `auth`: API keys (by environment variable name or sha256) mapped to kc.yaml users;
- `adapters`: one base model with every tenant's LoRA adapter loaded beside the others,
  switched per request, champions resolved from the MLflow registry;
- `protocol`: the request model, the OpenAI error shape and the response builders;
- `limits`: body size, access log and the concurrency gate.

The app itself is `knowledge_compiler.serve`.
"""
