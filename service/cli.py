"""The `tunedoc` command: a thin layer over the library. Each command calls one library function and turns
tunedoc's errors into a message and an exit code (2), never a traceback.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from service.config import apply_offline_env
from service.errors import TunedocError


def _read_input(source: str) -> str:
    from service.text import decode_bytes

    data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    decoded = decode_bytes(data)
    if decoded.note:
        print(f"note: {decoded.note}", file=sys.stderr)
    return decoded.text


def cmd_diagnose(args: argparse.Namespace) -> int:
    from service.pipeline import diagnose, diagnose_path
    from service.render import render_markdown

    retriever = None if args.no_retrieval else _retriever()
    if args.file == "-":
        result = diagnose(_read_input(args.file), retriever=retriever)
    else:
        result = diagnose_path(Path(args.file), retriever=retriever)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(render_markdown(result), end="")
    return 0


def _retriever():  # noqa: ANN202 - lazy import keeps the heavy stack off paths that do not retrieve
    """The retriever, or None with a note: like the API, the CLI still diagnoses by rules when the index cannot be
    opened or built (a read-only or full data dir, a broken store)."""
    from service.retrieval import open_retriever

    try:
        return open_retriever(build_if_stale=True)
    except Exception as exc:  # noqa: BLE001 - any store failure degrades to rules-only, said on stderr
        print(f"note: retrieval unavailable ({type(exc).__name__}: {str(exc)[:200]}); diagnosing by rules only",
              file=sys.stderr)
        return None


def cmd_check(args: argparse.Namespace) -> int:
    from service.checks import run_fixture
    from service.kb import Catalogue, lint
    from service.rules import RuleSet

    errors: list[str] = []
    catalogue = Catalogue.load(errors=errors)
    rules = RuleSet(catalogue)
    wanted = {Path(p).name.removesuffix(".md").removesuffix(".fixtures.yaml") for p in args.paths}
    failures = 0
    for problem in errors:
        if not wanted or any(w in problem for w in wanted):
            print(f"LOAD ERROR {problem}")
            failures += 1
    for problem in lint(catalogue):
        if wanted and not any(problem.startswith(w + " ") for w in wanted):
            continue
        print(f"LINT {problem}")
        failures += 1
    if not wanted:
        from service.cases import CaseBase, lint_cases
        from service.config import REPO_ROOT

        for problem in lint_cases(CaseBase.load(catalogue.root), catalogue.root,
                                  held_out=REPO_ROOT.parent / "shared" / "held-out"):
            print(f"CASES {problem}")
            failures += 1
    for article in catalogue.articles:
        if wanted and article.id not in wanted:
            continue
        for fixture in catalogue.fixtures.get(article.id, []):
            outcome = run_fixture(rules, fixture)
            todo = fixture.kind.startswith("todo")
            mark = "PASS" if outcome.passed else ("TODO" if todo else "FAIL")
            print(f"{mark} {article.id} [{fixture.kind}] {fixture.name}: {outcome.detail}")
            failures += not outcome.passed and not todo
    if args.rule_outs:
        from service.cases import CaseBase
        from service.exclusions import describe, tally_rule_outs

        tallies = tally_rule_outs(rules, CaseBase.load(catalogue.root).cases)
        print(describe([t for t in tallies if not wanted or t.article in wanted]))
    print(f"{failures} problem(s)")
    return 1 if failures else 0


def cmd_new(args: argparse.Namespace) -> int:
    from service.kb import scaffold_article

    for path in scaffold_article(args.area, args.id, args.category):
        print(f"wrote {path}")
    print(f"next: edit both files, then `tunedoc check {args.id}.md` until it passes, and `tunedoc docs`")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from service.docs import article_page
    from service.kb import Catalogue

    catalogue = Catalogue.load()
    article = catalogue.by_id.get(args.id)
    if article is None:
        close = [a.id for a in catalogue.articles if args.id in a.id or a.category == args.id]
        hint = f" Did you mean: {', '.join(close)}?" if close else " `tunedoc explain --list` lists them."
        print(f"error: no diagnosis with id {args.id!r}.{hint}", file=sys.stderr)
        return 2
    print(article_page(article, catalogue), end="")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from service.docs import write_docs

    stale = write_docs(check=args.check)
    if args.check and stale:
        print("docs are stale (run `tunedoc docs`):\n" + "\n".join(f"  {p}" for p in stale))
        return 1
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.indexer import ingest

    result = ingest(force=args.force)
    print(result.summary())
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from ingest.verify import repair, verify

    drift = repair() if args.repair else verify()
    print(drift.summary())
    return 0 if drift.clean else 1


def cmd_triage(args: argparse.Namespace) -> int:
    import os

    from service.triage import triage

    if args.apply_github and not args.output:
        print("error: --apply-github needs -o OUTPUT.jsonl (the triage it applies)", file=sys.stderr)
        return 2
    if args.yes and not args.apply_github:
        print("error: --yes only confirms --apply-github", file=sys.stderr)
        return 2
    if args.apply_github and args.yes and not os.environ.get("GITHUB_TOKEN"):
        print("error: --apply-github --yes needs a token in GITHUB_TOKEN", file=sys.stderr)
        return 2
    stats = triage(Path(args.input), Path(args.output) if args.output else None, fmt=args.format,
                   workers=args.workers, retrieval=not args.no_retrieval,
                   labels=Path(args.labels) if args.labels else None,
                   report_dir=Path(args.report) if args.report else None, server=args.server,
                   progress=not args.no_progress and sys.stderr.isatty())
    print(stats.line(), file=sys.stderr)
    print(stats.gaps_text(), file=sys.stderr)
    if stats.report:
        print(f"report: {stats.report['html']} and {stats.report['markdown']}", file=sys.stderr)
    if args.apply_github:
        from service.triage.github import apply_github
        from service.triage.run import read_summaries

        summary = apply_github(read_summaries(Path(args.output)), args.apply_github, send=args.yes,
                               token=os.environ.get("GITHUB_TOKEN"))
        return 1 if summary.failed else 0
    return 0


def _workers(value: str) -> str:
    if value != "auto" and not (value.isdigit() and int(value) >= 1):
        raise argparse.ArgumentTypeError("expected a positive number or `auto`")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from service.api.server import run

    workers = (os.cpu_count() or 1) if args.workers == "auto" else int(args.workers)
    # Each worker embeds with its share of the cores; more BLAS threads than cores only adds contention.
    os.environ.setdefault("TUNEDOC_EMBED_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, workers))))
    print(f"tunedoc: serving on http://{args.host}:{args.port} with {workers} worker(s) (API docs at /docs)",
          file=sys.stderr)
    run(args.host, args.port, workers)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from service.mcp_server import run_stdio

    run_stdio()
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from service.evaluate import run_cv, run_eval

    if args.cv == (args.cases is not None):
        print("error: give a cases file, or --cv for the case base", file=sys.stderr)
        return 2
    if args.cv:
        print(run_cv(show_misses=not args.quiet, embedding_model=args.embedding_model,
                     out_dir=Path(args.out) if args.out else None))
        return 0
    print(run_eval(Path(args.cases), baselines=not args.no_baselines, show_misses=not args.quiet,
                   embedding_model=args.embedding_model))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from service.learn import train
    from service.retrieval import open_retriever

    retriever = open_retriever(build_if_stale=True)
    out = Path(args.out) if args.out else retriever.catalogue.root / "model" / "fusion.json"
    _, _, summary = train(retriever, out, c=args.c)
    print(summary)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tunedoc", description="Diagnose LLM fine-tuning failures from pasted logs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("diagnose", help="diagnose a log/config/env paste",
                       epilog="Example: tunedoc diagnose train.log --json")
    p.add_argument("file", nargs="?", default="-", help="file to read, or - for standard input (default)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-retrieval", action="store_true", help="rules only: skip related-article retrieval")
    p.set_defaults(func=cmd_diagnose)

    p = sub.add_parser("explain", help="print a diagnosis article", epilog="Example: tunedoc explain fp16-overflow")
    p.add_argument("id")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("check", help="lint articles and run their fixtures",
                       epilog="Example: tunedoc check kb/numerics/fp16-overflow.md")
    p.add_argument("paths", nargs="*", help="article files (default: the whole kb/)")
    p.add_argument("--rule-outs", action="store_true",
                   help="also list how often each exclude / required condition rules its article out on the case "
                        "base, and how often the report is of that article's own cause")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("new", help="scaffold kb/AREA/ID.md and its fixtures (they pass the lint as written)",
                       epilog="Example: tunedoc new numerics fp16-overflow --category fp16-overflow")
    p.add_argument("area", help="a folder of kb/ listed in kb/areas.yaml")
    p.add_argument("id", help="the new article id (kebab-case)")
    p.add_argument("--category", help="taxonomy label (default: the id, when it is one)")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("docs", help="generate docs/diagnoses from kb/", epilog="Example: tunedoc docs --check")
    p.add_argument("--check", action="store_true", help="fail if the generated pages are stale")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("ingest", help="build or update the vector index of kb/", epilog="Example: tunedoc ingest")
    p.add_argument("--force", action="store_true", help="re-embed everything")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("index", help="check the vector index against kb/",
                       epilog="Example: tunedoc index verify --repair")
    p.add_argument("action", choices=["verify"])
    p.add_argument("--repair", action="store_true", help="delete stale, orphaned and duplicated chunks; re-ingest")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("triage", help="diagnose an issue-tracker export: labels, draft replies, duplicates, report",
                       epilog="Example: tunedoc triage issues.json -o results.jsonl --labels labels.yaml "
                              "[--apply-github owner/repo [--yes]]")
    p.add_argument("input", help="JSONL {id, title, body}, a GitHub issues JSON export, a CSV, or a folder of .md/.txt")
    p.add_argument("-o", "--output", help="output JSONL, resumable (default: standard output, no report)")
    p.add_argument("--format", choices=["jsonl", "github", "csv", "folder"], help="input format (default: detected)")
    p.add_argument("--workers", type=int, help="worker processes (default: the number of cores)")
    p.add_argument("--labels", help="YAML mapping of category -> tracker label")
    p.add_argument("--report", help="folder for report.html (+ report.js), report.md and causes.svg "
                                    "(default: OUTPUT-report/)")
    p.add_argument("--server", help="send reports to a running `tunedoc serve` at this URL")
    p.add_argument("--no-retrieval", action="store_true", help="rules only: no related articles, no duplicates")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--apply-github", metavar="OWNER/REPO",
                   help="add the proposed labels and post the draft replies on this GitHub repository (token from "
                        "GITHUB_TOKEN, API base from TUNEDOC_GITHUB_API); a dry run that only prints, unless --yes")
    p.add_argument("--yes", action="store_true", help="with --apply-github: really send (default: dry run)")
    p.set_defaults(func=cmd_triage)

    p = sub.add_parser("serve", help="run the REST API (and the chat at /ui)",
                       epilog="Example: tunedoc serve --host 127.0.0.1 --port 8000 --workers 2")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    # One worker by default: the chat's Gradio queue keeps its events in process memory, so a browser session must
    # reach the same process. API-only deployments (TUNEDOC_NO_UI=1) can use `--workers auto`, one per core.
    p.add_argument("--workers", default="1", type=_workers,
                   help="uvicorn worker processes, or `auto` for one per core (default 1: the chat needs one)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="Model Context Protocol server over stdio (tools: diagnose, search, explain)",
                       epilog="Example: tunedoc mcp")
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("eval", help="score against labelled reports, or cross-validate on the case base",
                       epilog="Example: tunedoc eval ../shared/cases-dev.jsonl; tunedoc eval --cv --out artifacts")
    p.add_argument("cases", nargs="?", help="labelled reports (JSONL: id, title, body, expected, lang)")
    p.add_argument("--cv", action="store_true", help="cross-validate on kb/cases/ (folds grouped by thread)")
    p.add_argument("--out", help="with --cv: folder for the reliability diagram (SVG)")
    p.add_argument("--no-baselines", action="store_true", help="skip the BM25 and plain-RAG baselines")
    p.add_argument("--quiet", action="store_true", help="do not list the misses")
    p.add_argument("--embedding-model",
                   help="embedding model for the retrieval rows (default: TUNEDOC_EMBEDDING_MODEL)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("train", help="fit the fusion model on the case base (writes kb/model/fusion.json)",
                       epilog="Example: tunedoc train")
    p.add_argument("--c", type=float, help="inverse regularisation strength (default: chosen by cross-validation)")
    p.add_argument("--out", help="where to write the model (default: kb/model/fusion.json)")
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    apply_offline_env()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TunedocError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:
        print(f"error: the index's database is unreadable ({exc}); run `tunedoc index verify --repair` or delete "
              f"the data dir (TUNEDOC_DATA_DIR) and run `tunedoc ingest`", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only data dir
        print(f"error: {exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
