"""Content for scripts/generate_agent_traces.py: domains, their tools, scenarios and phrasings.

Templates use {slot} fields filled per trace; a slot named "a|b" sets a and b together ("x|y"). An output may also be a function (rng, slots) -> str,
for outputs whose length or shape varies.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Union

Text = Union[str, Callable[[random.Random, dict[str, str]], str]]


@dataclass(frozen=True)
class Tool:
    name: str
    wrong_names: tuple[str, ...]
    wrong_params: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Step:
    tool: str
    args: dict[str, Any]
    output: Text
    stuck: Text = ""  # an unhelpful result the agent might loop on; "" = the normal output
    thoughts: tuple[str, ...] = ()
    bad_value: tuple[str, Any, str] | None = None  # (param, wrong value, error) for type confusion


@dataclass(frozen=True)
class Scenario:
    tasks: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]
    steps: tuple[Step, ...]
    done: tuple[str, ...]
    extra: tuple[Step, ...] = ()  # more distinct steps that lengthen a trace
    poll: Step | None = None  # a call that can be repeated with changing results (progress near-miss)
    page: Step | None = None  # a call that pages through results with a page argument


@dataclass(frozen=True)
class Domain:
    name: str
    tools: tuple[Tool, ...]
    scenarios: tuple[Scenario, ...]
    trivial: tuple[Scenario, ...]
    topic_words: tuple[str, ...] = field(default=())

    def tool(self, name: str) -> Tool:
        return next(tool for tool in self.tools if tool.name == name)


def lines(*options: str) -> Callable[[random.Random, dict[str, str]], str]:
    """An output made of a random number of the given lines, in order."""

    def make(rng: random.Random, slots: dict[str, str]) -> str:
        count = rng.randint(max(1, len(options) // 2), len(options))
        return "\n".join(option.format_map(slots) for option in options[:count])

    return make


def listing(head: str, items: tuple[str, ...], low: int = 2, high: int = 6) -> Callable[[random.Random, dict[str, str]], str]:
    """An output listing a random selection of items after a head line."""

    def make(rng: random.Random, slots: dict[str, str]) -> str:
        chosen = rng.sample(items, k=min(len(items), rng.randint(low, high)))
        return "\n".join([head.format_map(slots), *(item.format_map(slots) for item in chosen)])

    return make


# ---------------------------------------------------------------------------------------------
# coding
CODE_FILE = lines(
    "import {lib}",
    "",
    "def {func}(items, key=None):",
    '    """Return {what}."""',
    "    if not items:",
    "        return {empty}",
    "    total = 0",
    "    for item in items:",
    "        total += item if key is None else key(item)",
    "    return total / len(items) - 1",
    "",
    "def helper(x):",
    "    return x * 2",
)
TEST_FAIL = lines(
    "============ test session starts ============",
    "collected {ntests} items",
    "{test_file} ..F.                                  [100%]",
    "FAILED {test_file}::{test} - AssertionError: assert 2.0 == 3.0",
    "  where 2.0 = {func}([2, 3, 4])",
    "========= 1 failed, {npass} passed in 0.41s =========",
)
TEST_PASS = lines(
    "============ test session starts ============",
    "collected {ntests} items",
    "{test_file} ....                                  [100%]",
    "========= {ntests} passed in 0.38s =========",
)
CODING = Domain(
    name="coding",
    tools=(
        Tool("read_file", ("readFile", "open_file", "cat", "file_read", "view_file"),
             {"path": ("file", "filename", "filepath", "file_path", "name")}),
        Tool("edit_file", ("editFile", "replace_in_file", "patch_file", "modify_file"),
             {"path": ("file", "filename"), "old": ("find", "search", "old_text", "before"),
              "new": ("replace", "replacement", "new_text", "after")}),
        Tool("run_tests", ("pytest", "runTests", "test", "execute_tests"),
             {"target": ("path", "tests", "test_path", "file")}),
        Tool("search_code", ("grep", "searchCode", "find_in_files", "code_search"),
             {"pattern": ("query", "regex", "text", "search"), "path": ("dir", "directory", "folder")}),
        Tool("run_command", ("shell", "bash", "exec", "runCommand", "terminal"),
             {"cmd": ("command", "script", "args", "line")}),
        Tool("list_files", ("ls", "listFiles", "list_dir", "dir"), {"path": ("dir", "folder", "directory")}),
    ),
    scenarios=(
        Scenario(
            tasks=("Fix the failing test {test} in {test_file}.", "{test} is failing on main, please fix it.",
                   "CI is red because of {test}. Can you make it pass?"),
            slots={"test": ("test_mean", "test_average", "test_total_avg", "test_mean_of_prices"),
                   "test_file": ("tests/test_stats.py", "tests/test_metrics.py", "tests/unit/test_math.py"),
                   "module": ("src/stats.py", "src/metrics.py", "app/math_utils.py"),
                   "func": ("mean", "average", "avg_of", "mean_value"), "lib": ("math", "statistics", "typing"),
                   "what": ("the mean of the items", "the average value"), "empty": ("0", "None", "0.0"),
                   "ntests": ("4", "12", "27", "9"), "npass": ("3", "11", "26", "8")},
            steps=(
                Step("run_tests", {"target": "{test_file}"}, TEST_FAIL,
                     thoughts=("Start by reproducing the failure.", "Run the failing test first.", "")),
                Step("read_file", {"path": "{module}"}, CODE_FILE,
                     thoughts=("The assertion comes from {func}; read its source.", "", "Look at {module}.")),
                Step("edit_file", {"path": "{module}", "old": "return total / len(items) - 1",
                                   "new": "return total / len(items)"},
                     "Edited {module}: 1 replacement.",
                     thoughts=("There is an off-by-one: the '- 1' is wrong. Remove it.", "Remove the stray '- 1'.")),
                Step("run_tests", {"target": "{test_file}"}, TEST_PASS,
                     thoughts=("Re-run the test to confirm the fix.", "")),
            ),
            done=("Fixed: {func} subtracted 1 from the mean. {test} passes now.",
                  "The bug was a stray '- 1' in {module}; tests pass.", "Done, all tests in {test_file} pass."),
            extra=(
                Step("search_code", {"pattern": "{func}(", "path": "src/"},
                     listing("matches for '{func}(':", ("{module}:3: def {func}(items, key=None):",
                                                        "src/report.py:41:     avg = {func}(values)",
                                                        "src/cli.py:88:     print({func}(data))",
                                                        "tests/test_report.py:12:     assert {func}([1]) == 1")),
                     thoughts=("Check who else calls {func}.", "")),
                Step("read_file", {"path": "src/report.py"},
                     lines("from .stats import {func}", "", "def summary(values):", "    avg = {func}(values)",
                           "    return f'avg={{avg:.2f}}'"),
                     thoughts=("Make sure report.py does not rely on the bug.", "")),
                Step("run_command", {"cmd": "git log -3 --oneline -- {module}"},
                     lines("a1c93fe refactor {func} to accept a key", "77b02d1 add {func}", "0f3e9aa initial"),
                     thoughts=("When did this change?", "")),
            ),
        ),
        Scenario(
            tasks=("Add a --{flag} flag to the command line tool in {cli}.",
                   "Please add a '--{flag}' option to {cli} that turns on {feature}."),
            slots={"flag": ("verbose", "dry-run", "quiet", "json"), "cli": ("src/cli.py", "tool/main.py", "app/cli.py"),
                   "feature": ("more logging", "a preview without writing files", "machine-readable output")},
            steps=(
                Step("read_file", {"path": "{cli}"},
                     lines("import argparse", "", "def build_parser():", "    parser = argparse.ArgumentParser()",
                           "    parser.add_argument('input')", "    parser.add_argument('--output', default='-')",
                           "    return parser", "", "def main():", "    args = build_parser().parse_args()"),
                     thoughts=("See how arguments are parsed now.", "")),
                Step("edit_file", {"path": "{cli}", "old": "    return parser",
                                   "new": "    parser.add_argument('--{flag}', action='store_true')\n    return parser"},
                     "Edited {cli}: 1 replacement.", thoughts=("Add the flag next to --output.", "")),
                Step("run_command", {"cmd": "python {cli} --help"},
                     lines("usage: main.py [-h] [--output OUTPUT] [--{flag}] input", "", "positional arguments:",
                           "  input", "options:", "  -h, --help       show this help message and exit",
                           "  --{flag}"),
                     thoughts=("Check the help text shows it.", "")),
            ),
            done=("Added --{flag} to {cli}; it shows up in --help.", "The --{flag} option is in place.",
                  "Done: {cli} now accepts --{flag}."),
            extra=(
                Step("search_code", {"pattern": "args.output", "path": "."},
                     listing("results:", ("{cli}:14:     write(result, args.output)", "tool/io.py:3: # args.output",
                                          "README.md:40: --output FILE")),
                     thoughts=("Find where options are used.", "")),
                Step("run_tests", {"target": "tests/"}, TEST_PASS, thoughts=("Run the whole suite.", "")),
                Step("read_file", {"path": "README.md"},
                     lines("# tool", "Usage: tool INPUT [--output FILE]", "", "Options are documented in --help."),
                     thoughts=("Does the README list the options?", "")),
                Step("edit_file", {"path": "README.md", "old": "[--output FILE]", "new": "[--output FILE] [--{flag}]"},
                     "Edited README.md: 1 replacement.", thoughts=("Document the new flag.", "")),
            ),
        ),
        Scenario(
            tasks=("Rename the function {func} to {newfunc} everywhere.", "Please rename {func} -> {newfunc} across the repo."),
            slots={"func": ("load_cfg", "getData", "parse_row"), "newfunc": ("load_config", "get_data", "parse_record"),
                   "file_a": ("src/config.py", "src/io.py", "lib/loader.py"),
                   "file_b": ("src/app.py", "src/main.py", "lib/run.py")},
            steps=(
                Step("search_code", {"pattern": "{func}", "path": "."},
                     lines("{file_a}:10: def {func}(path):", "{file_b}:5: from .config import {func}",
                           "{file_b}:22:     cfg = {func}(args.config)"),
                     stuck="no matches for '{func}'", thoughts=("Find every use first.", "")),
                Step("edit_file", {"path": "{file_a}", "old": "def {func}(", "new": "def {newfunc}("},
                     "Edited {file_a}: 1 replacement.", thoughts=("Rename the definition.", "")),
                Step("edit_file", {"path": "{file_b}", "old": "{func}", "new": "{newfunc}"},
                     "Edited {file_b}: 2 replacements.", thoughts=("Now the two call sites.", "")),
                Step("run_tests", {"target": "tests/"}, TEST_PASS, thoughts=("Run the tests.", "")),
            ),
            done=("Renamed {func} to {newfunc} in {file_a} and {file_b}; tests pass.", "Rename done, 3 places changed."),
            extra=(
                Step("search_code", {"pattern": "{func}", "path": "docs/"}, "no matches for '{func}' in docs/",
                     thoughts=("Docs might mention it too.", "")),
                Step("list_files", {"path": "src/"}, listing("src/:", ("__init__.py", "config.py", "app.py", "io.py",
                                                                     "main.py", "utils.py", "cli.py"), 3, 7),
                     thoughts=("", "What else is in src?")),
                Step("search_code", {"pattern": "{func}", "path": "tests/"}, "tests/test_config.py:7:     cfg = {func}('x.toml')",
                     thoughts=("Tests may use the old name.", "")),
                Step("edit_file", {"path": "tests/test_config.py", "old": "{func}", "new": "{newfunc}"},
                     "Edited tests/test_config.py: 1 replacement.", thoughts=("Update the test too.", "")),
                Step("run_command", {"cmd": "git diff --stat"}, " {file_a} | 2 +-\n {file_b} | 4 ++--\n 2 files changed",
                     thoughts=("Review the diff.", "")),
            ),
        ),
    ),
    trivial=(
        Scenario(
            tasks=("What version is set in pyproject.toml?", "Which Python version does setup.cfg require?"),
            slots={"ver": ("1.4.2", "0.9.0", "2.1.0"), "py": ("3.9", "3.10", "3.11")},
            steps=(
                Step("read_file", {"path": "pyproject.toml"},
                     lines("[project]", 'name = "tool"', 'version = "{ver}"', 'requires-python = ">={py}"'),
                     thoughts=("",)),
            ),
            done=("The version is {ver}.", "It is {ver} (requires Python >= {py})."),
        ),
        Scenario(
            tasks=("Does the repo have a LICENSE file?", "Is there a Makefile in the project root?"),
            slots={"x": ("x",)},
            steps=(Step("list_files", {"path": "."}, listing(".:", ("LICENSE", "Makefile", "README.md", "src/",
                                                                   "tests/", "pyproject.toml"), 4, 6)),),
            done=("Yes, it is in the root.", "Yes."),
        ),
        Scenario(
            tasks=("How many lines does {cli} have?", "Quick question: how long is {cli}?"),
            slots={"nlines": ("88", "142", "310")},
            steps=(Step("run_command", {"cmd": "wc -l {cli}"}, "{nlines} {cli}"),),
            done=("{cli} has {nlines} lines.",),
        ),
        Scenario(
            tasks=("Which git branch am I on?", "What's the current branch?"),
            slots={"branch": ("main", "fix/stats-mean", "feature/cli-flags")},
            steps=(Step("run_command", {"cmd": "git branch --show-current"}, "{branch}"),),
            done=("You are on {branch}.", "{branch}."),
        ),
    ),
    topic_words=("the function", "the test", "the module", "this file", "the bug"),
)

# ---------------------------------------------------------------------------------------------
# web research
SEARCH_RESULTS = listing(
    "Results for '{query}':",
    ("1. {site1} - {thing}: history and release ({year})", "2. Wikipedia - {thing}",
     "3. {site2} - Who made {thing}? An interview", "4. forum thread: {thing} vs alternatives",
     "5. {site1} - {thing} documentation", "6. news: {thing} turns {age}"), 2, 6)
WEB = Domain(
    name="web research",
    tools=(
        Tool("web_search", ("search", "google", "searchWeb", "bing_search", "internet_search"),
             {"query": ("q", "text", "search_query", "keywords", "term"), "num_results": ("n", "limit", "count")}),
        Tool("fetch_page", ("open_url", "browse", "fetchPage", "get_url", "http_get"),
             {"url": ("link", "href", "address", "page")}),
        Tool("find_in_page", ("findInPage", "page_search", "ctrl_f"),
             {"url": ("link", "page"), "text": ("query", "term", "needle")}),
        Tool("save_note", ("write_note", "note", "saveNote", "add_note"),
             {"title": ("name", "heading"), "body": ("text", "content", "note")}),
    ),
    scenarios=(
        Scenario(
            tasks=("When was {thing} first released, and who created it?", "Find out who made {thing} and in which year.",
                   "I need the release year and the author of {thing}."),
            slots={"thing": ("the Lua language", "SQLite", "the Rust compiler", "Redis", "the Go language", "curl"),
                   "year": ("1993", "2000", "2010", "2009", "2012", "1998"),
                   "who": ("a small university team", "a single developer", "engineers at a large company"),
                   "site1": ("docs.example.org", "history.dev", "lang-archive.net"),
                   "site2": ("techinterviews.com", "devstories.io"), "age": ("20", "25", "15"),
                   "query": ("{thing} first release year creator",)},
            steps=(
                Step("web_search", {"query": "{thing} first release year creator", "num_results": 5}, SEARCH_RESULTS,
                     stuck="No results found for '{thing} first release year creator'.",
                     thoughts=("Search for it.", "", "A quick search should do.")),
                Step("fetch_page", {"url": "https://en.wikipedia.org/wiki/{thing}"},
                     lines("{thing} - Wikipedia", "{thing} is a software project first released in {year}.",
                           "It was created by {who}.", "Development continues on GitHub.",
                           "The name comes from an internal code name.", "See also: related projects."),
                     stuck="Page not found.", thoughts=("Open the encyclopedia article.", "")),
                Step("find_in_page", {"url": "https://en.wikipedia.org/wiki/{thing}", "text": "first released"},
                     "1 match: '... first released in {year} ...'", thoughts=("Confirm the year.", "")),
            ),
            done=("{thing} was first released in {year}, created by {who}.", "Released {year}; creator: {who}."),
            extra=(
                Step("fetch_page", {"url": "https://{site2}/interviews/{thing}"},
                     lines("Interview: the people behind {thing}", "Q: How did it start?",
                           "A: In {year} we needed something small and fast.", "Q: What would you change?"),
                     thoughts=("An interview may confirm who started it.", "")),
                Step("save_note", {"title": "{thing}", "body": "released {year}, by {who}"}, "Note saved.",
                     thoughts=("Keep a note for the report.", "")),
            ),
            page=Step("web_search", {"query": "{thing} history", "page": 1}, SEARCH_RESULTS),
        ),
        Scenario(
            tasks=("Compare the monthly price of {a} and {b} for a team of {n}.",
                   "Which is cheaper for {n} users, {a} or {b}?"),
            slots={"a": ("Acme Chat", "TaskFlow", "NoteHub"), "b": ("TalkBox", "PlanIt", "PaperTrail"),
                   "n": ("5", "10", "25"), "pa": ("8", "12", "6"), "pb": ("10", "9", "7")},
            steps=(
                Step("fetch_page", {"url": "https://{a}.example.com/pricing"},
                     lines("{a} pricing", "Free: up to 3 users", "Team: ${pa} per user per month",
                           "Enterprise: contact sales", "All plans include 14-day trial."),
                     stuck="Loading... please enable JavaScript.", thoughts=("Get {a}'s pricing page.", "")),
                Step("fetch_page", {"url": "https://{b}.example.com/pricing"},
                     lines("{b} plans", "Starter: ${pb} per seat/month", "Business: ${pb}+4 per seat/month",
                           "Annual billing saves 15%."),
                     thoughts=("Now {b}.", "")),
                Step("save_note", {"title": "pricing {a} vs {b}", "body": "{a} ${pa}/user, {b} ${pb}/user"},
                     "Note saved.", thoughts=("",)),
            ),
            done=("For {n} users: {a} costs ${pa} per user and {b} ${pb} per user per month.",
                  "{a} is ${pa}/user/month, {b} ${pb}/user/month."),
            extra=(
                Step("web_search", {"query": "{a} {b} comparison review"},
                     listing("Results:", ("1. {a} vs {b}: which is better", "2. Review of {b}", "3. {a} alternatives",
                                          "4. reddit: moved from {a} to {b}")),
                     thoughts=("Any hidden costs mentioned in reviews?", "")),
                Step("find_in_page", {"url": "https://{a}.example.com/pricing", "text": "annual"}, "0 matches",
                     thoughts=("Is there an annual discount for {a}?", "")),
            ),
        ),
        Scenario(
            tasks=("Find three recent papers on {topic} and note their titles.",
                   "Collect 3 recent articles about {topic}."),
            slots={"topic": ("small language models", "prompt optimization", "agent evaluation", "code retrieval")},
            steps=(
                Step("web_search", {"query": "{topic} paper 2024"},
                     listing("Results:", ("1. arXiv: Scaling {topic} (2024)", "2. arXiv: A survey of {topic}",
                                          "3. blog: what's new in {topic}", "4. arXiv: {topic} benchmarks revisited",
                                          "5. workshop: {topic} in practice")),
                     stuck="No results found.", thoughts=("Search arXiv-style results.", "")),
                Step("fetch_page", {"url": "https://arxiv.org/list/cs.CL/recent"},
                     listing("Recent submissions:", ("Efficient {topic}", "On the limits of {topic}",
                                                    "{topic}: a case study", "Benchmarks for {topic}",
                                                    "Revisiting {topic}"), 3, 5),
                     stuck="Page not found.", thoughts=("Check the recent listing too.", "")),
                Step("save_note", {"title": "papers: {topic}", "body": "3 titles collected"}, "Note saved."),
            ),
            done=("Saved three recent papers on {topic}.", "Here are three titles on {topic}, saved in the note."),
            extra=(
                Step("fetch_page", {"url": "https://arxiv.org/abs/2405.01234"},
                     lines("Efficient {topic}", "Abstract: We study {topic} under a fixed compute budget.",
                           "Submitted 2 May 2024.", "Comments: 14 pages"),
                     thoughts=("Open the first one to check the date.", "")),
                Step("find_in_page", {"url": "https://arxiv.org/list/cs.CL/recent", "text": "{topic}"},
                     "4 matches", thoughts=("How many mention it?", "")),
                Step("web_search", {"query": "{topic} survey"},
                     listing("Results:", ("1. A survey of {topic} (2024)", "2. {topic}: open problems",
                                          "3. Tutorial on {topic}")), thoughts=("Is there a survey?", "")),
            ),
        ),
    ),
    trivial=(
        Scenario(
            tasks=("What is the capital of {country}?", "Quick check: capital city of {country}?"),
            slots={"country|cap": ("Australia|Canberra", "Canada|Ottawa", "Kenya|Nairobi", "Norway|Oslo")},
            steps=(Step("web_search", {"query": "capital of {country}"},
                        lines("Results for 'capital of {country}':", "1. {cap} - capital of {country}",
                              "2. Travel guide: {cap}")),),
            done=("The capital of {country} is {cap}.",),
        ),
        Scenario(
            tasks=("Is example.org up right now?", "Can you check that the docs page loads?"),
            slots={"x": ("x",)},
            steps=(Step("fetch_page", {"url": "https://example.org"}, "Example Domain. This domain is for use in examples."),),
            done=("Yes, it loads fine.", "It is up."),
        ),
        Scenario(
            tasks=("How many euros is {usd} US dollars today?", "Convert {usd} USD to EUR."),
            slots={"usd|eur": ("100|92.40", "250|231.00", "40|36.96")},
            steps=(Step("web_search", {"query": "{usd} USD to EUR"}, "Results: 1. {usd} US Dollar = {eur} Euro (rates updated 5 min ago)"),),
            done=("{usd} USD is about {eur} EUR.",),
        ),
        Scenario(
            tasks=("What time zone is {city} in?", "Which timezone does {city} use?"),
            slots={"city|tz": ("Denver|Mountain Time (UTC-7)", "Lisbon|Western European Time (UTC+0)", "Perth|AWST (UTC+8)")},
            steps=(Step("web_search", {"query": "{city} time zone"}, "Results: 1. {city} - {tz}"),),
            done=("{city} is on {tz}.",),
        ),
    ),
    topic_words=("the source", "the page", "the search", "the result"),
)

# ---------------------------------------------------------------------------------------------
# data analysis
DATA = Domain(
    name="data analysis",
    tools=(
        Tool("load_csv", ("read_csv", "open_csv", "loadCSV", "pd_read"), {"path": ("file", "filename", "csv")}),
        Tool("run_sql", ("sql", "query", "execute_sql", "runSQL", "db_query"), {"query": ("sql", "statement", "q")}),
        Tool("describe", ("summary", "df_describe", "stats", "describeTable"), {"table": ("df", "name", "dataset")}),
        Tool("plot", ("make_plot", "chart", "plt", "draw_chart"),
             {"x": ("x_col", "xaxis", "column"), "y": ("y_col", "yaxis", "value"), "kind": ("type", "style", "chart")}),
        Tool("python", ("exec_python", "run_python", "py", "eval"), {"code": ("source", "script", "cmd")}),
    ),
    scenarios=(
        Scenario(
            tasks=("What was the average order value in {month}?", "Compute the mean order total for {month} {year}."),
            slots={"month|mnum": ("March|03", "July|07", "October|10", "January|01"), "year": ("2023", "2024"),
                   "aov": ("54.20", "61.75", "48.90", "72.10"),
                   "rows": ("18,204", "9,551", "31,870")},
            steps=(
                Step("load_csv", {"path": "data/orders.csv"},
                     lines("loaded orders: {rows} rows x 7 columns",
                           "columns: order_id, customer_id, created_at, total, currency, status, region"),
                     thoughts=("Load the orders.", "")),
                Step("run_sql", {"query": "SELECT AVG(total) FROM orders WHERE strftime('%m', created_at) = '{mnum}' AND status = 'paid'"},
                     lines("avg_total", "{aov}", "(1 row)"), stuck="avg_total\nNULL\n(1 row)",
                     thoughts=("Average of paid orders in that month.", "")),
            ),
            done=("The average paid order in {month} was {aov}.", "Mean order value for {month}: {aov}."),
            extra=(
                Step("describe", {"table": "orders"},
                     lines("total: count {rows}, mean 58.3, std 41.0, min 0.5, max 2310", "status: paid 91%, refunded 6%",
                           "currency: USD 100%"),
                     thoughts=("Check for odd values first.", "")),
                Step("run_sql", {"query": "SELECT status, COUNT(*) FROM orders GROUP BY status"},
                     lines("status | count", "paid | 16,570", "refunded | 1,094", "pending | 540"),
                     thoughts=("Which statuses exist?", "")),
                Step("run_sql", {"query": "SELECT COUNT(*) FROM orders WHERE total IS NULL"}, "count\n0\n(1 row)",
                     thoughts=("Any missing totals?", "")),
            ),
            page=Step("run_sql", {"query": "SELECT order_id, total FROM orders ORDER BY total DESC LIMIT 20", "page": 1},
                      listing("order_id | total", ("A-1001 | 2310.00", "A-2044 | 1980.50", "A-0192 | 1503.25",
                                                   "A-3310 | 1499.00", "A-7781 | 1320.75"))),
        ),
        Scenario(
            tasks=("Plot monthly revenue for {year}.", "Make a line chart of revenue per month in {year}."),
            slots={"year": ("2022", "2023", "2024")},
            steps=(
                Step("run_sql", {"query": "SELECT strftime('%m', created_at) AS month, SUM(total) AS revenue FROM orders WHERE strftime('%Y', created_at) = '{year}' GROUP BY month"},
                     lines("month | revenue", "01 | 81,210", "02 | 77,904", "03 | 90,118", "04 | 88,002", "05 | 95,310",
                           "06 | 99,870", "... 6 more rows"),
                     stuck="month | revenue\n(0 rows)", thoughts=("Aggregate revenue by month.", "")),
                Step("plot", {"x": "month", "y": "revenue", "kind": "line"}, "Saved chart to plots/revenue_{year}.png",
                     thoughts=("Plot it.", "")),
            ),
            done=("Chart saved to plots/revenue_{year}.png.", "Here is the monthly revenue chart for {year}."),
            extra=(
                Step("python", {"code": "df['month'].nunique()"}, "12", thoughts=("Are all 12 months present?", "")),
                Step("describe", {"table": "orders"}, "total: count 20,114, mean 57.9, std 40.2",
                     thoughts=("Sanity-check the totals.", "")),
            ),
        ),
        Scenario(
            tasks=("Which region had the most returns last quarter?", "Find the region with the highest return rate in Q{q}."),
            slots={"q": ("1", "2", "3", "4"), "region": ("EMEA", "APAC", "North America", "LATAM"), "rate": ("7.1", "5.4", "9.8")},
            steps=(
                Step("load_csv", {"path": "data/returns.csv"}, "loaded returns: 2,310 rows x 5 columns",
                     thoughts=("Load the returns table.", "")),
                Step("run_sql", {"query": "SELECT region, COUNT(*) AS n FROM returns GROUP BY region ORDER BY n DESC"},
                     lines("region | n", "{region} | 812", "EMEA | 640", "APAC | 498", "LATAM | 360"),
                     stuck="region | n\n(0 rows)", thoughts=("Count returns per region.", "")),
                Step("run_sql", {"query": "SELECT region, 100.0 * COUNT(r.id) / COUNT(o.id) FROM orders o LEFT JOIN returns r USING (order_id) GROUP BY region"},
                     lines("region | rate", "{region} | {rate}", "EMEA | 4.2", "APAC | 3.9"),
                     thoughts=("Raw counts favour big regions; compute the rate.", "")),
            ),
            done=("{region} had the most returns ({rate}% of orders).", "Highest return rate: {region} at {rate}%."),
            extra=(
                Step("describe", {"table": "returns"}, lines("columns: id, order_id, region, reason, created_at",
                                                           "reason: damaged 41%, wrong size 33%, other 26%"),
                     thoughts=("What does the table hold?", "")),
                Step("run_sql", {"query": "SELECT MIN(created_at), MAX(created_at) FROM returns"},
                     "min | max\n2024-01-02 | 2024-12-30", thoughts=("Which dates are covered?", "")),
                Step("plot", {"x": "region", "y": "rate", "kind": "bar"}, "Saved chart to plots/returns_by_region.png",
                     thoughts=("A bar chart helps.", "")),
            ),
        ),
    ),
    trivial=(
        Scenario(
            tasks=("How many rows are in data/customers.csv?", "How many customers are in the table?"),
            slots={"n": ("4,210", "12,003", "877")},
            steps=(Step("load_csv", {"path": "data/customers.csv"}, "loaded customers: {n} rows x 6 columns"),),
            done=("It has {n} rows.", "{n} customers."),
        ),
        Scenario(
            tasks=("What columns does the orders table have?",),
            slots={"x": ("x",)},
            steps=(Step("describe", {"table": "orders"}, "columns: order_id, customer_id, created_at, total, status"),),
            done=("order_id, customer_id, created_at, total and status.",),
        ),
        Scenario(
            tasks=("What is the largest order total we have?", "Max order value in the orders table?"),
            slots={"max": ("2310.00", "1980.50")},
            steps=(Step("run_sql", {"query": "SELECT MAX(total) FROM orders"}, "max\n{max}\n(1 row)"),),
            done=("The largest order total is {max}.",),
        ),
        Scenario(
            tasks=("How many orders are still pending?", "Count the pending orders."),
            slots={"pending": ("540", "12", "87")},
            steps=(Step("run_sql", {"query": "SELECT COUNT(*) FROM orders WHERE status = 'pending'"}, "count\n{pending}\n(1 row)"),),
            done=("{pending} orders are pending.",),
        ),
    ),
    topic_words=("the query", "the table", "the numbers", "the data"),
)

# ---------------------------------------------------------------------------------------------
# retail support
RETAIL = Domain(
    name="retail support",
    tools=(
        Tool("lookup_order", ("get_order", "find_order", "orderLookup", "order_status"),
             {"order_id": ("id", "order", "orderId", "order_number")}),
        Tool("get_customer", ("customer_lookup", "getCustomer", "find_customer"), {"email": ("mail", "customer", "user")}),
        Tool("issue_refund", ("refund", "create_refund", "issueRefund", "refund_order"),
             {"order_id": ("id", "order", "orderId"), "amount": ("value", "total", "sum"), "reason": ("note", "why", "cause")}),
        Tool("track_shipment", ("track", "trackPackage", "shipment_status", "get_tracking"),
             {"tracking_number": ("tracking", "tracking_id", "number", "id")}),
        Tool("send_reply", ("reply", "respond", "sendReply", "email_customer"),
             {"ticket_id": ("ticket", "id", "case"), "message": ("text", "body", "reply")}),
        Tool("search_kb", ("kb", "search_docs", "searchKB", "help_search"), {"query": ("q", "text", "topic")}),
        Tool("update_address", ("change_address", "set_address", "updateAddress", "edit_order"),
             {"order_id": ("id", "order", "orderId"), "address": ("addr", "new_address", "shipping_address", "to")}),
    ),
    scenarios=(
        Scenario(
            tasks=("Ticket {ticket}: customer {email} says order {order} arrived damaged and wants a refund.",
                   "Handle ticket {ticket}: damaged item in order {order}, customer asks for money back."),
            slots={"ticket": ("T-4821", "T-5102", "T-3377"), "email": ("ana@example.com", "li.wei@example.com", "sam@example.com"),
                   "order": ("ORD-100482", "ORD-203911", "ORD-118560"), "amount": ("39.99", "129.00", "18.50"),
                   "item": ("ceramic mug set", "desk lamp", "phone case")},
            steps=(
                Step("lookup_order", {"order_id": "{order}"},
                     lines("order {order}: status delivered", "items: {item} x1, total {amount} USD",
                           "customer: {email}", "delivered 3 days ago"),
                     stuck="order {order}: no record", thoughts=("Check the order.", ""),
                     bad_value=("order_id", "{ordnum}", "Invalid order id '{ordnum}': expected format ORD-123456")),
                Step("search_kb", {"query": "damaged item refund policy"},
                     lines("KB-12: Damaged on arrival", "Refund in full within 30 days; no return needed under $50.",
                           "Over $50: ask for a photo first."),
                     thoughts=("What does the policy say for damaged items?", "")),
                Step("issue_refund", {"order_id": "{order}", "amount": "{amount}", "reason": "damaged on arrival"},
                     "Refund R-{ordnum} created: {amount} USD to original payment method.",
                     thoughts=("Policy allows a full refund.", ""),
                     bad_value=("amount", "${amount}", "ValueError: amount must be a number, got '${amount}'")),
                Step("send_reply", {"ticket_id": "{ticket}", "message": "Sorry about the damaged {item}. We refunded {amount} USD; it should arrive in 3-5 days."},
                     "Reply sent on {ticket}.", thoughts=("Tell the customer.", "")),
            ),
            done=("Refunded {amount} USD for {order} and replied on {ticket}.", "Ticket {ticket} resolved with a full refund."),
            extra=(
                Step("get_customer", {"email": "{email}"},
                     lines("customer {email}: since 2021, 14 orders", "open tickets: 1", "refunds last 90 days: 0"),
                     thoughts=("Any refund abuse history?", "")),
                Step("search_kb", {"query": "refund processing time"}, "KB-14: Refunds reach the customer in 3-5 business days.",
                     thoughts=("How long will it take?", "")),
                Step("lookup_order", {"order_id": "{order}"}, "order {order}: refund pending",
                     thoughts=("Confirm the refund is attached to the order.", "")),
            ),
        ),
        Scenario(
            tasks=("Where is order {order}? The customer says it is late.", "Customer asks for the status of order {order}."),
            slots={"order": ("ORD-300117", "ORD-412208", "ORD-290055"), "trk": ("1Z999AA10123456784", "9400111899223344", "JD014600003"),
                   "city": ("Leipzig", "Dayton", "Lyon"), "ticket": ("T-6012", "T-6120")},
            steps=(
                Step("lookup_order", {"order_id": "{order}"}, "order {order}: status shipped, tracking {trk}",
                     thoughts=("Look up the order.", "")),
                Step("track_shipment", {"tracking_number": "{trk}"},
                     lines("{trk}: in transit", "last scan: {city} sorting center, yesterday 18:40",
                           "estimated delivery: tomorrow"),
                     stuck="{trk}: label created, not yet scanned", thoughts=("Track the parcel.", "")),
                Step("send_reply", {"ticket_id": "{ticket}", "message": "Your parcel was scanned in {city} yesterday and should arrive tomorrow."},
                     "Reply sent on {ticket}.", thoughts=("",)),
            ),
            done=("Order {order} is in transit, due tomorrow; customer informed.",),
            extra=(
                Step("get_customer", {"email": "{email}"}, "customer {email}: since 2019, 31 orders, 2 open tickets",
                     thoughts=("Who is the customer?", "")),
                Step("search_kb", {"query": "late delivery compensation"},
                     "KB-22: If a parcel is more than 5 days late, offer a 10% voucher.", thoughts=("Do we owe anything?", "")),
            ),
            poll=Step("track_shipment", {"tracking_number": "{trk}"}, "{trk}: in transit"),
        ),
        Scenario(
            tasks=("Change the shipping address of order {order} to {addr}.", "The customer moved: update {order} to ship to {addr}."),
            slots={"order": ("ORD-551200", "ORD-530871"), "addr": ("12 Elm St, Springfield", "Hauptstr. 5, Bonn", "4 Rue Vert, Nantes")},
            steps=(
                Step("lookup_order", {"order_id": "{order}"}, "order {order}: status processing, not yet shipped",
                     thoughts=("Only possible before shipping; check.", "")),
                Step("search_kb", {"query": "change shipping address"}, "KB-31: Address changes are allowed until the order ships. Use update_address.",
                     thoughts=("", "How do we change it?")),
                Step("update_address", {"order_id": "{order}", "address": "{addr}"}, "Address of {order} updated.",
                     thoughts=("Update it.", "")),
            ),
            extra=(
                Step("get_customer", {"email": "{email}"}, "customer {email}: address on file differs from new one",
                     thoughts=("Check the customer record.", "")),
                Step("lookup_order", {"order_id": "{order}"}, "order {order}: ship to {addr}",
                     thoughts=("Verify the change.", "")),
            ),
            done=("Shipping address of {order} changed to {addr}.",),
        ),
    ),
    trivial=(
        Scenario(
            tasks=("Has order {order} shipped yet?", "Quick one: is {order} delivered?"),
            slots={"order": ("ORD-777001", "ORD-610032")},
            steps=(Step("lookup_order", {"order_id": "{order}"}, "order {order}: status delivered"),),
            done=("Yes, {order} was delivered.",),
        ),
        Scenario(
            tasks=("What is our return window for shoes?",),
            slots={"x": ("x",)},
            steps=(Step("search_kb", {"query": "return window shoes"}, "KB-7: Shoes can be returned within 60 days, unworn."),),
            done=("60 days, if unworn.",),
        ),
        Scenario(
            tasks=("Which email is on order {order}?", "Who placed order {order}?"),
            slots={"x": ("x",)},
            steps=(Step("lookup_order", {"order_id": "{order}"}, "order {order}: customer {email}, status processing"),),
            done=("Order {order} was placed by {email}.",),
        ),
        Scenario(
            tasks=("Do we ship to Canada?", "Is international shipping to Canada available?"),
            slots={"x": ("x",)},
            steps=(Step("search_kb", {"query": "shipping to Canada"}, "KB-3: We ship to Canada; 5-8 business days, duties included."),),
            done=("Yes, 5-8 business days, duties included.",),
        ),
    ),
    topic_words=("the order", "the customer", "the policy", "the refund"),
)

# ---------------------------------------------------------------------------------------------
# DevOps
LOGS = lines(
    "{time} ERROR upstream connect error or disconnect/reset before headers",
    "{time} WARN  pool exhausted: 50/50 connections in use",
    "{time} ERROR upstream connect error or disconnect/reset before headers",
    "{time} INFO  healthcheck ok",
    "{time} ERROR timeout waiting for db connection (5000ms)",
)
DEVOPS = Domain(
    name="DevOps",
    tools=(
        Tool("get_pods", ("kubectl_get_pods", "list_pods", "pods", "getPods"), {"namespace": ("ns", "env", "cluster")}),
        Tool("get_logs", ("logs", "kubectl_logs", "fetch_logs", "getLogs", "tail_logs"),
             {"pod": ("pod_name", "name", "container"), "lines": ("tail", "n", "limit")}),
        Tool("restart_deployment", ("restart", "rollout_restart", "restartDeployment", "kubectl_restart"),
             {"name": ("deployment", "deploy", "service"), "namespace": ("ns", "env")}),
        Tool("get_metrics", ("metrics", "query_metrics", "getMetrics", "prometheus"),
             {"service": ("svc", "name", "app"), "metric": ("query", "name", "series"), "window": ("range", "period", "since")}),
        Tool("run_shell", ("shell", "ssh", "exec", "bash", "runShell"), {"host": ("server", "machine", "node"), "cmd": ("command", "script")}),
        Tool("deploy", ("release", "deploy_service", "rollout", "kubectl_apply"),
             {"service": ("svc", "app", "name"), "version": ("tag", "image", "ver"), "env": ("environment", "namespace", "stage")}),
        Tool("deploy_status", ("get_deploy", "check_deploy", "deployStatus", "rollout_status"), {"deploy_id": ("id", "deployment", "run")}),
    ),
    scenarios=(
        Scenario(
            tasks=("{svc} is returning 502s in production. Find out why and fix it.",
                   "Users report errors from {svc}; investigate the 502s."),
            slots={"svc": ("checkout-api", "search-svc", "auth-gateway", "billing-api"),
                   "pod": ("checkout-api-7d9f8-x2kq", "search-svc-5c6b7-plm2", "auth-gateway-66f-7hx", "billing-api-84b-r9t"),
                   "time": ("2024-05-02T10:41:07Z", "2024-06-11T03:12:55Z", "2024-03-28T22:05:19Z"),
                   "p99": ("4.8s", "6.1s", "3.9s")},
            steps=(
                Step("get_metrics", {"service": "{svc}", "metric": "http_5xx_rate", "window": "1h"},
                     lines("{svc} http_5xx_rate (1h): 0.2% -> 14.6%", "started ~35 min ago", "p99 latency {p99}"),
                     thoughts=("How bad is it and since when?", "")),
                Step("get_pods", {"namespace": "prod"},
                     listing("NAME                         READY STATUS  RESTARTS",
                             ("{pod}   1/1   Running 0", "db-proxy-6b9-qq2      1/1   Running 7",
                              "web-frontend-55c-1xk  1/1   Running 0", "worker-7f8-lmn        1/1   Running 1"), 2, 4),
                     thoughts=("Check the pods.", "")),
                Step("get_logs", {"pod": "{pod}", "lines": 50}, LOGS, stuck="(no new log lines)",
                     thoughts=("Read recent logs.", "")),
                Step("restart_deployment", {"name": "db-proxy", "namespace": "prod"},
                     "deployment.apps/db-proxy restarted", thoughts=("The db connection pool is exhausted; restart db-proxy.", "")),
                Step("get_metrics", {"service": "{svc}", "metric": "http_5xx_rate", "window": "10m"},
                     "{svc} http_5xx_rate (10m): 14.1% -> 0.3%", thoughts=("Did it help?", "")),
            ),
            done=("The db-proxy connection pool was exhausted; after a restart {svc} errors dropped to 0.3%.",
                  "Fixed for now by restarting db-proxy; 5xx rate back to normal. Follow-up: raise the pool size."),
            extra=(
                Step("get_logs", {"pod": "db-proxy-6b9-qq2", "lines": 30},
                     lines("{time} WARN  max connections reached (50)", "{time} ERROR rejecting new client",
                           "{time} INFO  stats: active=50 idle=0"), thoughts=("And the proxy itself?", "")),
                Step("get_metrics", {"service": "db-proxy", "metric": "active_connections", "window": "1h"},
                     "db-proxy active_connections (1h): 22 -> 50 (max)", thoughts=("Is the pool saturated?", "")),
                Step("run_shell", {"host": "bastion", "cmd": "kubectl rollout history deploy/{svc} -n prod"},
                     "REVISION  CHANGE-CAUSE\n41  image v2.13.0\n42  image v2.13.1", thoughts=("Was there a recent deploy?", "")),
            ),
            poll=Step("get_metrics", {"service": "{svc}", "metric": "http_5xx_rate", "window": "5m"}, "{svc} http_5xx_rate (5m): in progress"),
        ),
        Scenario(
            tasks=("Deploy {svc} version {ver} to {env}.", "Roll out {svc}:{ver} on {env} and make sure it is healthy."),
            slots={"svc": ("checkout-api", "search-svc", "notifier"), "ver": ("v2.14.0", "v1.9.3", "v3.0.1"),
                   "env": ("staging", "prod", "canary"), "dep": ("dep-8812", "dep-9034", "dep-7710")},
            steps=(
                Step("deploy", {"service": "{svc}", "version": "{ver}", "env": "{env}"}, "deployment {dep} started",
                     thoughts=("Start the rollout.", ""),
                     bad_value=("version", "latest", "error: version must be a semver tag like v1.2.3, got 'latest'")),
                Step("deploy_status", {"deploy_id": "{dep}"}, "{dep}: complete, 6/6 pods ready",
                     stuck="{dep}: in progress, 2/6 pods ready", thoughts=("Check the rollout.", "")),
                Step("get_metrics", {"service": "{svc}", "metric": "error_rate", "window": "15m"}, "{svc} error_rate (15m): 0.1%",
                     thoughts=("Health check after deploy.", "")),
            ),
            done=("{svc} {ver} is live on {env}, error rate 0.1%.", "Deployed {ver} to {env}; all pods ready."),
            extra=(
                Step("get_pods", {"namespace": "{env}"}, listing("NAME READY STATUS", ("{svc}-new-1 1/1 Running", "{svc}-new-2 1/1 Running",
                                                                                     "{svc}-new-3 1/1 Running", "db-0 1/1 Running")),
                     thoughts=("Look at the new pods.", "")),
                Step("get_logs", {"pod": "{svc}-new-1", "lines": 20}, "INFO started {svc} {ver}\nINFO listening on :8080",
                     thoughts=("Startup logs clean?", "")),
            ),
            poll=Step("deploy_status", {"deploy_id": "{dep}"}, "{dep}: in progress"),
        ),
        Scenario(
            tasks=("Disk usage alert on {host}. Free up space.", "{host} is at 95% disk; clean it up safely."),
            slots={"host": ("web-03", "build-01", "db-replica-2"), "big": ("/var/log/app", "/tmp/build-cache", "/var/lib/docker")},
            steps=(
                Step("run_shell", {"host": "{host}", "cmd": "df -h /"}, "Filesystem Size Used Avail Use%\n/dev/sda1 100G 95G 5G 95%",
                     thoughts=("Confirm the alert.", "")),
                Step("run_shell", {"host": "{host}", "cmd": "du -sh /var/* /tmp | sort -h | tail -5"},
                     lines("1.2G /var/cache", "3.4G /var/lib", "41G {big}"), stuck="du: cannot read directory: Permission denied",
                     thoughts=("Find what is big.", "")),
                Step("run_shell", {"host": "{host}", "cmd": "find {big} -mtime +14 -delete"}, "",
                     thoughts=("Delete files older than two weeks there.", "")),
                Step("run_shell", {"host": "{host}", "cmd": "df -h /"}, "Filesystem Size Used Avail Use%\n/dev/sda1 100G 61G 39G 61%",
                     thoughts=("Check again.", "")),
            ),
            done=("Freed 34G on {host} by deleting old files in {big}; disk at 61%.",),
            extra=(
                Step("run_shell", {"host": "{host}", "cmd": "ls -la {big} | head"}, "total 41G\n-rw-r--r-- app.log.1\n-rw-r--r-- app.log.2.gz",
                     thoughts=("What kind of files?", "")),
                Step("run_shell", {"host": "{host}", "cmd": "lsof +L1 | wc -l"}, "0", thoughts=("Any deleted files still held open?", "")),
            ),
        ),
    ),
    trivial=(
        Scenario(
            tasks=("How many pods are running in staging?",),
            slots={"x": ("x",)},
            steps=(Step("get_pods", {"namespace": "staging"}, "NAME READY STATUS\napi-1 1/1 Running\nweb-1 1/1 Running\nworker-1 1/1 Running"),),
            done=("Three pods are running.",),
        ),
        Scenario(
            tasks=("What's the uptime of {host}?",),
            slots={"host": ("web-01", "db-1")},
            steps=(Step("run_shell", {"host": "{host}", "cmd": "uptime"}, " 10:12:01 up 41 days,  3:02,  1 user"),),
            done=("{host} has been up 41 days.",),
        ),
        Scenario(
            tasks=("Which version of {svc} runs in prod?", "What {svc} version is deployed in production?"),
            slots={"x": ("x",)},
            steps=(Step("run_shell", {"host": "bastion", "cmd": "kubectl get deploy {svc} -n prod -o jsonpath='{{.spec.template.spec.containers[0].image}}'"},
                        "registry.local/{svc}:{ver}"),),
            done=("{svc} {ver} is running in prod.",),
        ),
        Scenario(
            tasks=("Is the {svc} error rate normal right now?",),
            slots={"x": ("x",)},
            steps=(Step("get_metrics", {"service": "{svc}", "metric": "error_rate", "window": "15m"}, "{svc} error_rate (15m): 0.1%"),),
            done=("Yes, 0.1% over the last 15 minutes.",),
        ),
    ),
    topic_words=("the service", "the pods", "the deploy", "the logs"),
)

# ---------------------------------------------------------------------------------------------
# calendar and email
CALENDAR = Domain(
    name="calendar and email",
    tools=(
        Tool("list_events", ("get_events", "calendar", "listEvents", "show_calendar"), {"date": ("day", "when", "on")}),
        Tool("find_free_slot", ("free_time", "findFreeSlot", "availability", "find_slot"),
             {"attendees": ("people", "participants", "with"), "duration_min": ("duration", "length", "minutes"),
              "date": ("day", "on")}),
        Tool("create_event", ("add_event", "createEvent", "schedule", "book_meeting", "new_event"),
             {"title": ("name", "subject", "summary"), "start": ("time", "begin", "from", "start_time"),
              "duration_min": ("duration", "length", "end"), "attendees": ("guests", "invitees", "people")}),
        Tool("search_email", ("find_email", "searchMail", "gmail_search", "inbox_search"), {"query": ("q", "text", "filter")}),
        Tool("read_email", ("open_email", "get_email", "readMail"), {"id": ("email_id", "message_id", "msg")}),
        Tool("update_event", ("move_event", "reschedule", "updateEvent", "edit_event"),
             {"id": ("event_id", "event", "eid"), "start": ("time", "new_time", "start_time", "when")}),
        Tool("send_email", ("email", "sendMail", "mail", "compose"),
             {"to": ("recipient", "address", "email"), "subject": ("title", "topic"), "body": ("text", "message", "content")}),
    ),
    scenarios=(
        Scenario(
            tasks=("Schedule a {dur}-minute meeting with {person} on {day}.", "Find time with {person} on {day} for {dur} minutes and book it."),
            slots={"dur": ("30", "45", "60"), "person": ("maria@corp.com", "devon@corp.com", "kim@corp.com"),
                   "day": ("2024-06-12", "2024-07-03", "2024-05-21"), "slot": ("10:30", "14:00", "16:15")},
            steps=(
                Step("list_events", {"date": "{day}"},
                     listing("{day}:", ("09:00-09:30 standup", "11:00-12:00 design review", "13:00-13:30 lunch",
                                        "15:00-15:45 1:1", "17:00-17:30 wrap-up")),
                     thoughts=("See my own calendar first.", "")),
                Step("find_free_slot", {"attendees": ["{person}"], "duration_min": "{dur}", "date": "{day}"},
                     lines("free slots on {day} for {dur} min:", "{slot}", "16:30"), stuck="no free slot found",
                     thoughts=("Find a common slot.", ""),
                     bad_value=("date", "next {weekday}", "ValueError: invalid date format 'next {weekday}', expected YYYY-MM-DD")),
                Step("create_event", {"title": "Sync", "start": "{day}T{slot}", "duration_min": "{dur}", "attendees": ["{person}"]},
                     "Event created: Sync, {day} {slot}, {dur} min, invite sent to {person}",
                     thoughts=("Book the first slot.", ""),
                     bad_value=("start", "{slot}", "error: start must be an ISO datetime (YYYY-MM-DDTHH:MM), got '{slot}'")),
            ),
            done=("Booked a {dur}-minute sync with {person} on {day} at {slot}.", "Meeting set for {day} {slot}; invite sent."),
            extra=(
                Step("search_email", {"query": "from:{person} availability"}, "1 result: 'Re: next week' - \"I'm free most afternoons\"",
                     thoughts=("Did they mention preferences?", "")),
                Step("list_events", {"date": "{day}"}, "{day}:\n09:00-09:30 standup\n{slot} Sync with {person}",
                     thoughts=("Check it is on the calendar.", "")),
            ),
        ),
        Scenario(
            tasks=("Find the invoice email from {vendor} and forward it to {person}.", "Forward {vendor}'s latest invoice to {person}."),
            slots={"vendor": ("CloudCo", "PrintShop", "Acme Hosting"), "person": ("finance@corp.com", "jo@corp.com"),
                   "mid": ("msg-88121", "msg-90233", "msg-77410"), "amt": ("1,240.00", "310.50", "89.99")},
            steps=(
                Step("search_email", {"query": "from:{vendor} invoice"},
                     listing("results:", ("{mid}: '{vendor} invoice - May' (3 days ago)", "msg-10012: '{vendor} newsletter'",
                                          "msg-09931: '{vendor} invoice - April'")),
                     stuck="0 results", thoughts=("Search the inbox.", "")),
                Step("read_email", {"id": "{mid}"}, lines("From: billing@{vendor}.example", "Subject: {vendor} invoice - May",
                                                         "Amount due: {amt} USD", "Attachment: invoice-May.pdf"),
                     thoughts=("Check it is the right one.", "")),
                Step("send_email", {"to": "{person}", "subject": "Fwd: {vendor} invoice - May", "body": "Forwarding the May invoice ({amt} USD), PDF attached."},
                     "Email sent to {person}.", thoughts=("Forward it.", "")),
            ),
            done=("Forwarded {vendor}'s May invoice ({amt} USD) to {person}.",),
            extra=(
                Step("read_email", {"id": "msg-09931"}, "Subject: {vendor} invoice - April\nAmount due: 1,100.00 USD (paid)",
                     thoughts=("Make sure April is not the unpaid one.", "")),
                Step("search_email", {"query": "to:{person} {vendor}"}, "0 results", thoughts=("Was it already forwarded?", "")),
            ),
            page=Step("search_email", {"query": "from:{vendor}", "page": 1},
                      listing("results:", ("msg-1: '{vendor} invoice'", "msg-2: '{vendor} receipt'", "msg-3: '{vendor} news'"))),
        ),
        Scenario(
            tasks=("Move my {time} meeting on {day} to {newtime}.", "Reschedule the {time} call on {day} to {newtime}."),
            slots={"time": ("09:00", "14:00"), "newtime": ("11:00", "16:00"), "day": ("2024-06-14", "2024-08-02"),
                   "eid": ("evt-551", "evt-902")},
            steps=(
                Step("list_events", {"date": "{day}"}, "{day}:\n{time} [{eid}] partner call (30 min)\n12:00-13:00 lunch",
                     thoughts=("Find the event id.", "")),
                Step("update_event", {"id": "{eid}", "start": "{day}T{newtime}"}, "Event {eid} moved to {day} {newtime}; attendees notified.",
                     thoughts=("Move it.", "")),
            ),
            done=("Moved the partner call to {newtime} on {day}.",),
            extra=(
                Step("find_free_slot", {"attendees": ["partner@ext.com"], "duration_min": 30, "date": "{day}"},
                     "free slots on {day} for 30 min:\n{newtime}\n17:00", thoughts=("Is the partner free then?", "")),
                Step("list_events", {"date": "{day}"}, "{day}:\n{newtime} [{eid}] partner call\n12:00-13:00 lunch",
                     thoughts=("Confirm.", "")),
            ),
        ),
    ),
    trivial=(
        Scenario(
            tasks=("What's on my calendar on {day}?",),
            slots={"day": ("2024-06-10", "2024-09-01")},
            steps=(Step("list_events", {"date": "{day}"}, "{day}:\n10:00-10:30 standup\n15:00-16:00 planning"),),
            done=("Standup at 10:00 and planning at 15:00.",),
        ),
        Scenario(
            tasks=("Send {person} a short thank-you email for the notes.", "Email {person}: thanks for the slides!"),
            slots={"person": ("ravi@corp.com", "ella@corp.com")},
            steps=(Step("send_email", {"to": "{person}", "subject": "Thanks", "body": "Thanks a lot for sharing!"}, "Email sent to {person}."),),
            done=("Sent.", "Done, the thank-you email is sent."),
        ),
        Scenario(
            tasks=("Do I have anything at 15:00 on {day}?", "Am I free at 3pm on {day}?"),
            slots={"x": ("x",)},
            steps=(Step("list_events", {"date": "{day}"}, "{day}:\n10:00-10:30 standup\n15:00-15:45 1:1 with Sam"),),
            done=("Yes, a 1:1 with Sam from 15:00 to 15:45.",),
        ),
        Scenario(
            tasks=("Did {vendor} send anything this week?", "Any email from {vendor} lately?"),
            slots={"x": ("x",)},
            steps=(Step("search_email", {"query": "from:{vendor} newer_than:7d"}, "1 result: '{vendor} invoice - May' (3 days ago)"),),
            done=("Yes, their May invoice, 3 days ago.",),
        ),
    ),
    topic_words=("the meeting", "the invite", "the email", "the calendar"),
)

DOMAINS: tuple[Domain, ...] = (CODING, WEB, DATA, RETAIL, DEVOPS, CALENDAR)

# ---------------------------------------------------------------------------------------------
# phrasings shared by all domains

# Errors from calling a tool with a wrong argument name: {tool}, {param} (wrong), {valid} (expected).
ARG_ERRORS = (
    "TypeError: {tool}() got an unexpected keyword argument '{param}'",
    "Error: invalid parameter '{param}' for {tool}. Expected: {valid}",
    '400 Bad Request: unknown field "{param}"',
    "ValidationError: 1 validation error for {tool}\n{param}\n  Extra inputs are not permitted",
    "Unrecognized argument: {param}",
    "{tool}: missing required argument '{valid}'",
    "error: schema mismatch - '{valid}' is required, '{param}' is not a known property",
    "Invalid arguments for {tool}: {{'{param}': 'unexpected'}}",
)
# Errors from calling a tool that does not exist: {name}, {tools}.
TOOL_ERRORS = (
    "Error: tool '{name}' does not exist. Available tools: {tools}",
    "Unknown function: {name}",
    "No such tool: {name}",
    "ToolNotFound: '{name}' is not registered",
    "error: '{name}' is not a valid tool name",
    "KeyError: '{name}'",
)
# The same mistakes as seen through a wrapper that does not set the error flag.
SOFT_ERRORS = (
    '{{"status": 400, "error": "invalid_request", "detail": "unknown field {param}"}}',
    "HTTP 422 Unprocessable Entity: field '{valid}' required",
    '{{"ok": false, "message": "unsupported parameter: {param}"}}',
    "Request rejected: '{param}' is not a recognised option",
)
# Transient failures: retrying the same call is fine once, a loop when it never changes.
TRANSIENT_ERRORS = (
    "TimeoutError: {tool} timed out after 30s",
    "503 Service Unavailable",
    "ConnectionError: connection reset by peer",
    "RateLimitError: too many requests, retry later",
    "504 Gateway Timeout",
)

# Thoughts before re-running or repeating a call: shared by loops, tool misuse and legitimate re-checks.
RETRY = (
    "Let me try that again.",
    "Try once more.",
    "Let me check again.",
    "Check once more to be sure.",
    "Again.",
    "Retrying.",
    "Maybe this time it shows something new.",
    "One more time.",
    "Let me verify the {what} again.",
    "Let me re-check the {what}.",
    "Still need the {what}.",
    "OK, calling it again.",
    "Hmm.",
    "Let me look at {x} again.",
    "Probably a blip.",
    "It should work now.",
    "",
    "",
    "",
)
# A correction of a call; {name} is what the agent now believes is right (it may still be wrong).
FIX = (
    "The error says it should be '{name}'. Fixing that.",
    "Wrong argument name; use '{name}'.",
    "Right, it's '{name}'. Retry with that.",
    "My mistake - it must be '{name}'.",
    "So the tool wants '{name}'.",
    "",
)
TOOL_FIX = (
    "That tool doesn't exist; use {name}.",
    "The right tool must be {name}.",
    "Try {name} instead.",
    "",
)
# Generic endings, used in every state (true or not).
GENERIC_DONE = (
    "Done. I've completed the task.",
    "I have finished with {x}.",
    "The task is complete.",
    "All set.",
)
STILL_TRYING = (
    "Still working on it.",
    "I'll keep going.",
    "Almost there, one more step.",
    "Continuing with {x}.",
)

# Sentences of monologue: {task} is the request, {x} a topic word of the domain.
MONOLOGUE = (
    "Let me think about how to approach this.",
    "The user asked: {task}",
    "Before doing anything I should make sure I understand {x} correctly.",
    "There are several ways to go about this, so let me consider each of them carefully.",
    "One option is to look it up directly, which is probably the simplest.",
    "Another option would be to first gather more context about {x}, in case there is something unusual.",
    "On the other hand, gathering context might be unnecessary for something this small.",
    "I should also consider whether the user might actually mean something slightly different.",
    "For instance, they could be asking about {x} in a broader sense.",
    "But the most natural reading is the literal one, so I will go with that.",
    "Wait, I should double-check my assumptions before I act.",
    "It is important to be careful here, even though it looks simple.",
    "Let me restate the goal to make sure I have it right.",
    "The goal is simply: {task}",
    "I wonder if there are any edge cases I am missing.",
    "Edge cases could include the information being out of date, or {x} being ambiguous.",
    "However, I don't think that is likely in this situation.",
    "Let me also think about how I will present the answer.",
    "A short, direct answer is probably best, maybe with one sentence of context.",
    "Actually, let me reconsider whether a tool call is even needed.",
    "I think it is, because I should not guess.",
    "Alright, so the plan is: make one call, read the result, and answer.",
    "Hmm, but what if the result is unclear? Then I would need a second step.",
    "I'll cross that bridge when I get there.",
    "Let me also keep in mind that the user probably wants this quickly.",
    "Thinking about it more, I am fairly confident about the approach.",
    "Still, it doesn't hurt to go over it one more time.",
    "First, understand the request. Second, get the data. Third, answer.",
    "That seems like a reasonable plan overall.",
    "Let me now consider the wording of the final reply.",
    "Perhaps I should mention where the information came from.",
    "Okay, I have thought about this enough, but let me just confirm one more detail about {x}.",
    "It is also worth asking whether the user wants extra detail about {x} or just the answer.",
    "I will assume just the answer, since the question is short.",
    "Now, to be thorough, let me think about what could go wrong with the call.",
    "The tool might return an error, or an empty result, or something unexpected.",
    "If that happens I will try to understand why before trying again.",
    "In any case, I should proceed step by step.",
    "Let me summarize my reasoning so far before continuing.",
    "So far I have decided to check {x} with a single call and then reply.",
    "Step one would be to gather what I need; step two, to verify it; step three, to report back.",
    "Is there any risk in doing this? Not really, it is a read-only lookup.",
    "Let me weigh speed against thoroughness for a moment.",
    "Speed matters, but correctness matters more, so a careful answer is worth a few extra seconds.",
    "I could ask a clarifying question, although the request seems clear enough.",
    "Asking would slow things down, so I will not.",
    "There might be a cached value somewhere, but I would rather look it up fresh.",
    "I recall that {x} can sometimes be tricky, though I am not sure why I think that.",
    "Maybe I am overcomplicating this.",
    "Then again, being systematic has never hurt.",
    "Let me list what I know: the request, the tools available, and nothing else yet.",
    "What I don't know yet is the actual value, which is the whole point.",
    "If I were a person doing this, I would simply check and answer.",
    "So that is what I will do, right after one last consideration.",
    "The last consideration is formatting: plain text should be fine.",
    "Good. Also, units or dates should be stated explicitly if they appear.",
    "Alternatively I could present a small table, but that seems excessive.",
    "No, a sentence is enough.",
    "Now that the plan is settled, let me think about whether it is the best plan.",
    "I believe it is, given the constraints.",
)
# Planning sentences used as ordinary (short) thoughts and messages in all states.
PLANNING = (
    "Plan: check {x}, then act on it.",
    "First I'll look at {x}.",
    "Let me look at {x} before changing anything.",
    "I'll start with {x} and go from there.",
    "Next step: {x}.",
    "Good, that confirms it.",
    "That worked; moving on.",
    "OK, I have what I need about {x}.",
    "Let me think about {x} for a moment: the result looks consistent.",
    "Looks right so far.",
    "Now {x}.",
    "Continue with {x}.",
)
