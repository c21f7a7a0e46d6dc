"""Test support: a real llama.cpp server process and loopback HTTP proxies (recording, fault injection)."""
