"""`kc serve`: the compiled knowledge behind an OpenAI-compatible HTTP endpoint.

- `auth`: API keys (by environment variable name or sha256) mapped to kc.yaml users;
- `adapters`: one base model with every tenant's LoRA adapter loaded beside the others,
  switched per request, champions resolved from the MLflow registry;
- `protocol`: the request model, the OpenAI error shape and the response builders;
- `limits`: body size, access log and the concurrency gate;
- `context`: `ServeContext`, the server's state (keys, pool, index, limits) and who may use what;
- `requests`: a chat request parsed and fitted to the window before any work; the 504;
- `work`: one request's answer on a worker thread (whole, or piece by piece);
- `streaming`: `stream: true` as server-sent events.

The app itself (routes, error handlers, `kc serve`'s entry point) is `knowledge_compiler.serve`.
"""
