"""Benchmarking tools for LLM servers: ``loadtest`` (one server under load) and ``benchmark``
(several servers, one after another, under the same load)."""
