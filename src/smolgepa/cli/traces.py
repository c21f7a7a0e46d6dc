"""`smolgepa traces import --from FORMAT FILE`: agent logs (OpenAI chat, Anthropic messages, ATIF, SWE-agent, mini-swe-agent, ReAct text) as trace JSONL."""

from __future__ import annotations

import argparse
import json
import sys

from smolgepa.cli.common import add_quiet_flag

# smolgepa.traces.importers.FORMATS, written out so that building the parser stays light.
LOG_FORMATS = ("openai-chat", "anthropic", "atif", "swe-agent", "mini-swe-agent", "react")


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `traces` subcommand and its verbs."""
    parser = commands.add_parser("traces", help="agent traces: import real transcripts as traces")
    verbs = parser.add_subparsers(dest="verb", required=True)
    imports = verbs.add_parser("import", help="convert an agent log (JSON, JSONL or a ReAct text log) into trace JSONL on stdout")
    imports.add_argument("file", help="a JSON file (one conversation, or a list), JSONL (one conversation a line), "
                                      "or for react a text log (one or many episodes)")
    imports.add_argument("--from", dest="log_format", required=True, choices=LOG_FORMATS,
                         help="openai-chat: messages with tool_calls and tool results; anthropic: messages with "
                              "tool_use and tool_result blocks; atif: Harbor's trajectory.json (steps); swe-agent: "
                              "a SWE-agent .traj file; mini-swe-agent: a mini-swe-agent .traj.json whose commands are "
                              "in the assistant's text (```bash blocks)")
    imports.add_argument("--messages-key", metavar="KEY",
                         help="the key that holds each conversation's messages, when it is not the format's own "
                              "(openai-chat and anthropic look under 'messages', then 'traj')")
    imports.add_argument("--label", help="write this label on every line (a task's data file)")
    add_quiet_flag(imports)
    imports.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> None:
    from smolgepa.traces import ToolCall, ToolResult
    from smolgepa.traces.importers import import_traces

    traces = import_traces(args.file, args.log_format, args.messages_key)
    for item in traces:
        sys.stdout.write(json.dumps(item.to_json(args.label), ensure_ascii=False) + "\n")
    if not args.quiet:
        turns = [turn for item in traces for turn in item.trace.turns]
        calls = sum(isinstance(turn, ToolCall) for turn in turns)
        errors = sum(turn.error for turn in turns if isinstance(turn, ToolResult))
        print(f"imported {len(traces)} traces from {args.file} ({calls} tool calls, {errors} failed)", file=sys.stderr)
