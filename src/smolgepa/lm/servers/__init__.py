"""Students behind an OpenAI-compatible server: the engine (`server_engine`) and its async twin
(`server_async`), request payloads and replies (`payloads`), server-side label scoring
(`server_scoring`, `server_label_scoring`), a pool of URLs (`pool`), settings, and identification of
what answers at a URL (`identify`)."""
