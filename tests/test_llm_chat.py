"""services/llm_chat.py against a real OpenAI-compatible server on loopback (tests/support/openai_server.py):
the context holds the report's numbers and no raw value, answers stream, follow-ups carry the history,
tools go through the asking principal's permissions, every failure ends in the labelled fallback
within the configured time, the log records (or not), and the API key never shows."""
from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from helpers import ADMIN, OTHER_USER, USER

from vision_widgets.core.errors import InvalidInput, NotFound, PermissionDenied
from vision_widgets.core.llm import log as llm_log
from vision_widgets.core.llm.summary import LABEL
from vision_widgets.services import drift_page, llm_chat, registration
from vision_widgets.services.llm_chat import Delta, Done, Facts, ToolUse, Turn
from vision_widgets.services.registration import ModelSpec

from tests.support.openai_server import answer, hang, running_openai_server, status, tool_call

KEY = "sk-test-0123456789abcdef-SECRET"
#: The timeouts the failure tests run with: the fallback must come within TIMEOUT + SLACK.
TIMEOUT, SLACK = 2.0, 2.0


@pytest.fixture
def server():
    with running_openai_server() as s:
        yield s


def with_llm(ctx, url: str | None, **more):
    """``ctx`` with an LLM endpoint at ``url`` (None: none configured)."""
    options = dict(openai_base_url=url, openai_api_key=KEY if url else None, llm_model="test-model",
                   llm_timeout=TIMEOUT, llm_connect_timeout=1.0)
    return replace(ctx, settings=replace(ctx.settings, **{**options, **more}))


def frames(seed: int = 7):
    """A model built from known data: every raw number has 7 decimals, every category is a made-up word, so
    any raw value that reached a request would be found by a plain substring search."""
    rng = np.random.default_rng(seed)

    def frame(n: int, start: str, shift: float) -> pd.DataFrame:
        x = rng.normal(500 + shift, 40, n)
        w = rng.normal(-80, 9, n)
        score = 1 / (1 + np.exp(-(x - 520) / 25))
        return pd.DataFrame({
            "ts": pd.date_range(start, periods=n, freq="37min"),
            "income": np.round(x + rng.uniform(0.0000011, 0.0000099, n), 7),
            "balance": np.round(w + rng.uniform(0.0000011, 0.0000099, n), 7),
            "segment": rng.choice(["zorblax", "quintavor", "mellifrond"], n),
            "y": (rng.uniform(size=n) < score).astype(int),
            "score": np.round(score, 7),
        })

    return frame(1500, "2026-01-01", 0.0), pd.concat([frame(600, "2026-03-02", 0.0), frame(600, "2026-03-20", 90.0)])


@pytest.fixture
def known(ctx, login, settings):
    """The model ``Known`` (owned by USER) and its raw training and production frames."""
    train, prod = frames()
    folder = settings.home / "data"
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "known_train.csv", index=False)
    prod.to_csv(folder / "known_prod.csv", index=False)
    registration.register_model(ctx, login(USER), ModelSpec(
        name="Known", task="binary classification", target="y", prediction="score", timestamp="ts",
        training=str(folder / "known_train.csv"), production=str(folder / "known_prod.csv")))
    return "Known", train, prod


@pytest.fixture
def others(ctx, login, settings, known):
    """A model owned by OTHER_USER (USER may not open it)."""
    train, prod = frames(11)
    folder = settings.home / "data"
    train.to_csv(folder / "other_train.csv", index=False)
    prod.to_csv(folder / "other_prod.csv", index=False)
    registration.register_model(ctx, login(OTHER_USER), ModelSpec(
        name="Theirs", task="binary classification", target="y", prediction="score", timestamp="ts",
        training=str(folder / "other_train.csv"), production=str(folder / "other_prod.csv")))
    return "Theirs"


def run(events) -> list:
    return list(events)


def texts(events) -> str:
    return "".join(e.text for e in events if isinstance(e, Delta))


def rows(ctx):
    with ctx.store.read() as conn:
        return llm_log.entries(conn, 1000)[::-1]


# --------------------------------------------------------------------------------------------
# The context: the report's numbers, never a raw value
# --------------------------------------------------------------------------------------------
def test_the_context_holds_the_reports_numbers_and_no_raw_value_of_any_row(ctx, login, known, server):
    name, train, prod = known
    c = with_llm(ctx, server.url)
    server.script(answer("Income drifted in the late windows.", pieces=3))
    events = run(llm_chat.ask_about_model(c, login(USER), name, "Why did drift fire?"))
    assert server.chat_requests, events[-1]
    body = server.chat_requests[0].raw
    sent = json.loads(body)["messages"]
    assert sent[0]["role"] == "system" and sent[-1] == {"role": "user", "content": "Why did drift fire?"}

    # the latest report's numbers, as the Drift page computes them, are in what was sent
    latest = drift_page.drift_overview(ctx, login(USER), name).latest
    context = sent[0]["content"]
    assert f"Latest window: {latest.label}" in context
    assert f"Features drifted (latest window): {len(latest.drifted)} of {len(latest.features)} features (" in context
    income = next(f for f in latest.features if f.feature == "income")
    assert income.drifted
    line = next(l for l in context.splitlines() if l.startswith("- income ("))
    assert f"statistic {income.statistic:.4g}" in line and f"PSI {income.psi:.4g}" in line
    assert f"threshold {income.threshold:.4g}" in line and "mean" in line and "training" in line
    # and the facts the page lists are exactly the lines sent
    facts = events[0].facts
    assert isinstance(events[0], Facts) and facts
    assert all(f"- {f.label}: {f.value}" in context for f in facts)

    # no raw value of any row: not one number or category of the data appears in the request
    raw_values = {str(v) for df in (train, prod) for col in ("income", "balance", "score") for v in df[col]}
    leaked = [v for v in raw_values if v in body]
    assert leaked == [], leaked[:5]
    # a category's name appears only as a term of the surrogate (published, ≥ k rows, as on Model 360)
    for category in train["segment"].unique():
        assert all(l.startswith("- Surrogate coefficient of segment=") for l in context.splitlines() if category in l)


def test_a_model_with_a_hundred_features_fits_the_token_budget():
    from vision_widgets.core.llm.context import DRIFTED, MODEL, STABLE, fit
    from vision_widgets.core.llm.events import Fact

    sections = [(MODEL, [Fact("Model", "wide")]),
                (DRIFTED, [Fact(f"f{i} (numeric, window w)", "ks statistic 0.5, threshold 0.05, PSI 0.3") for i in range(40)]),
                (STABLE, [Fact(f"g{i} (numeric, window w)", "ks statistic 0.01, threshold 0.05, PSI 0.0") for i in range(60)])]
    out = fit(sections, 600)
    assert out.tokens <= 600 and out.omitted > 0
    kept = dict(out.sections)
    assert kept[MODEL] == (Fact("Model", "wide"),)
    assert not [f for f in kept[STABLE] if f.label.startswith("g")], "the least important section goes first"
    assert kept[DRIFTED][0].label.startswith("f0") and kept[DRIFTED][-1].label == "Not listed to save space"


def _window(label, features, dataset_drift, share=None, threshold=0.5):
    from types import SimpleNamespace as NS

    feats = tuple(NS(feature=name, drifted=d) for name, d in features)
    drifted = sum(d for _, d in features)
    return NS(label=label, rows=100, drift_share=drifted / len(feats) if share is None else share,
              threshold_share=threshold, dataset_drift=dataset_drift, sorted_features=lambda: feats)


def test_a_cut_section_says_how_many_of_its_true_total_are_listed_and_that_line_stays():
    from vision_widgets.core.llm.context import LATEST, MODEL, OMITTED, STABLE, fit
    from vision_widgets.core.llm.events import Fact

    # what build gives for 100 stable features: the first 40 listed, standing for 100
    stable = [Fact(f"g{i} (numeric, window w)", "ks statistic 0.01 (p-value 0.9), threshold 0.05, PSI 0.001, "
                   "not drifted; mean 1.234 in training vs 1.240 in the window") for i in range(40)]
    for budget in (1500, 400, 250):
        out = fit([(MODEL, [Fact("Model", "wide")]), (LATEST, [Fact("Latest window", "w")]), (STABLE, stable, 100)],
                  budget)
        kept = dict(out.sections)[STABLE]
        listed = len([f for f in kept if f.label != OMITTED])
        assert kept[-1].label == OMITTED, budget  # never cut, also when no feature fits
        assert kept[-1].value == f"{listed} of the 100 features of this section listed; {100 - listed} more not listed"
        assert (kept[-1].data["listed"], kept[-1].data["total"]) == (listed, 100)
        assert out.omitted == 100 - listed and (STABLE, listed, 100) in out.counts


def test_the_summary_counts_every_drifted_feature_not_only_those_listed():
    from vision_widgets.core.llm.context import DRIFTED, LATEST, MODEL, fit
    from vision_widgets.core.llm.events import Fact
    from vision_widgets.core.llm.summary import TOP, model_summary

    drifted = [Fact(f"f{i} (numeric, window w)", "ks statistic 0.5, threshold 0.05, PSI 0.3, drifted") for i in range(40)]
    out = fit([(MODEL, [Fact("Model", "wide")]), (LATEST, [Fact("Latest window", "w")]), (DRIFTED, drifted, 100)], 3000)
    assert f"- … and {100 - TOP} more drifted feature(s)." in model_summary(out).splitlines()


def test_the_summary_reads_which_windows_fired_from_the_verdicts_not_from_the_wording():
    from types import SimpleNamespace as NS

    from vision_widgets.core.llm.context import MODEL, RECENT, _recent, fit
    from vision_widgets.core.llm.events import Fact
    from vision_widgets.core.llm.summary import model_summary

    # a feature named drift_days drifts, the dataset never does ("drifted: income, drift_days" once read as fired)
    windows = [_window("2026-03-05", [("drift_days", True), ("income", False), ("x", False)], False),
               _window("2026-03-12", [("income", True), ("drift_days", True), ("x", False), ("y", False)], False),
               _window("2026-03-19", [("drift_days", False), ("income", False)], False)]
    out = fit([(MODEL, [Fact("Model", "M")]), (RECENT, _recent(NS(windows=windows)))], 3000)
    assert "Dataset drift fired in 0 of the last 3 windows." in model_summary(out)
    windows[1] = _window("2026-03-12", [("drift_days", True), ("income", True), ("x", True)], True)
    out = fit([(MODEL, [Fact("Model", "M")]), (RECENT, _recent(NS(windows=windows)))], 3000)
    assert "Dataset drift fired in 1 of the last 3 windows." in model_summary(out)


def test_shares_come_with_their_counts_so_they_cannot_contradict_the_verdict():
    from types import SimpleNamespace as NS

    from vision_widgets.core.llm.context import _latest, _recent

    # 8 of 27 is 29.6%: "30%" next to a 30% rule and "no drift" would read as a contradiction
    w = _window("2026-04-02", [(f"f{i}", i < 8) for i in range(27)], False, threshold=0.3)
    facts = {f.label: f.value for f in _latest(NS(latest=w))}
    assert facts["Features drifted (latest window)"] == "8 of 27 features (29.6%)"
    assert facts["Dataset drift rule"] == "drift when at least 30% of features drift"
    assert _recent(NS(windows=[w]))[0].value.startswith("8 of 27 features (29.6%) drifted, no dataset drift")


# --------------------------------------------------------------------------------------------
# Streaming, follow-ups, tools
# --------------------------------------------------------------------------------------------
def test_the_answer_streams_in_several_pieces_between_the_facts_and_done(ctx, login, known, server):
    c = with_llm(ctx, server.url)
    server.script(answer("Look at **income** first: its mean rose by about 90.", pieces=5))
    events = run(llm_chat.ask_about_model(c, login(USER), "Known", "Which features should I look at first?",
                                          conversation="conv-1"))
    assert isinstance(events[0], Facts) and isinstance(events[-1], Done)
    deltas = [e for e in events if isinstance(e, Delta)]
    assert len(deltas) == 5
    done = events[-1]
    assert done.source == "llm" and done.notice == ""
    assert done.answer == texts(events) == "Look at **income** first: its mean rose by about 90."
    logged = rows(ctx)
    assert [(r.kind, r.username, r.model, r.conversation) for r in logged] == [
        ("prompt", USER, "Known", "conv-1"), ("answer", USER, "Known", "conv-1")]
    assert logged[0].content == "Which features should I look at first?" and logged[1].content == done.answer
    assert logged[1].endpoint == server.url and "@" not in logged[1].endpoint


def test_a_follow_up_carries_the_conversation_so_far(ctx, login, known, server):
    c = with_llm(ctx, server.url)
    history = (Turn("user", "Why did drift fire?"), Turn("assistant", "Because income moved."))
    run(llm_chat.ask_about_model(c, login(USER), "Known", "And what about balance?", history=history))
    messages = server.chat_requests[0].body["messages"]
    assert messages[1:] == [{"role": "user", "content": "Why did drift fire?"},
                            {"role": "assistant", "content": "Because income moved."},
                            {"role": "user", "content": "And what about balance?"}]


def test_the_llm_may_call_a_tool_on_the_users_own_model(ctx, login, known, server):
    c = with_llm(ctx, server.url)
    server.script(tool_call("feature_history", {"model": "Known", "feature": "income"}), answer("It rose late."))
    events = run(llm_chat.ask_about_model(c, login(USER), "Known", "Since when does income drift?"))
    used = [e for e in events if isinstance(e, ToolUse)]
    assert used == [ToolUse("feature_history", '{"model": "Known", "feature": "income"}', True,
                            "history of income in Known")]
    # the second request carries the tool's result, which is the feature's drift per window
    second = server.chat_requests[1].body["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == "feature_history"
    result = json.loads(second[-1]["content"])
    assert result["feature"] == "income" and result["windows"][-1]["drifted"] is True
    assert events[-1] == Done("It rose late.", "llm")
    assert "tools" in server.chat_requests[0].body


def test_a_tool_call_for_another_users_model_is_refused_and_recorded(ctx, login, known, others, server):
    c = with_llm(ctx, server.url)
    server.script(tool_call("drift_report", {"model": others, "window": "2026-03-20"}), answer("I may not see it."))
    events = run(llm_chat.ask_about_model(c, login(USER), "Known", "Compare with Theirs"))
    used = [e for e in events if isinstance(e, ToolUse)]
    assert len(used) == 1 and not used[0].ok and "may not open" in used[0].summary
    refusal = server.chat_requests[1].body["messages"][-1]
    assert refusal["role"] == "tool" and "Refused" in refusal["content"]
    assert "windows" not in refusal["content"] and "features" not in refusal["content"]
    logged = [r for r in rows(ctx) if r.kind == "tool_call"]
    assert len(logged) == 1 and json.loads(logged[0].content)["ok"] is False
    # an admin may open every model, so the same call is answered for them
    window = drift_page.drift_overview(ctx, login(ADMIN), others).latest.label
    server.script(tool_call("drift_report", {"model": others, "window": window}), answer("Seen."))
    events = run(llm_chat.ask_about_model(c, login(ADMIN), "Known", "Compare with Theirs"))
    assert [e.ok for e in events if isinstance(e, ToolUse)] == [True]


def test_tool_rounds_are_bounded(ctx, login, known, server):
    from vision_widgets.core.llm.client import MAX_TOOL_ROUNDS

    c = with_llm(ctx, server.url)
    call = tool_call("feature_history", {"model": "Known", "feature": "income"})
    server.script(*[call] * (MAX_TOOL_ROUNDS + 3))
    server.default = answer("Final.")
    events = run(llm_chat.ask_about_model(c, login(USER), "Known", "Dig deep"))
    assert len([e for e in events if isinstance(e, ToolUse)]) == MAX_TOOL_ROUNDS
    assert len(server.chat_requests) == MAX_TOOL_ROUNDS + 1
    assert "tools" not in server.chat_requests[-1].body  # the last round must answer


def test_the_calls_of_one_round_are_capped_and_the_rest_are_answered_with_an_error(ctx, login, known, server):
    from vision_widgets.core.llm.client import MAX_TOOL_CALLS

    c = with_llm(ctx, server.url)
    many = [("feature_history", {"model": "Known", "feature": "income"})] * 400
    server.script(tool_call(*many[0], *many[1:]), answer("Done digging."))
    events = run(llm_chat.ask_about_model(c, login(USER), "Known", "Dig"))
    used = [e for e in events if isinstance(e, ToolUse)]
    # MAX_TOOL_CALLS run, then one line saying how many were not
    assert [e.ok for e in used] == [True] * MAX_TOOL_CALLS + [False]
    assert f"{400 - MAX_TOOL_CALLS} more tool call(s)" in used[-1].summary
    assert events[-1] == Done("Done digging.", "llm")
    # the model was answered for every call it made (the protocol wants it), the extra ones with an error
    replies = [m for m in server.chat_requests[1].body["messages"] if m["role"] == "tool"]
    assert len(replies) == 400
    assert sum("error" in json.loads(m["content"]) for m in replies) == 400 - MAX_TOOL_CALLS
    # the log holds the calls run and one row for the rest, not 400 rows
    assert len([r for r in rows(ctx) if r.kind == "tool_call"]) == MAX_TOOL_CALLS + 1


def test_a_cancel_during_a_round_of_tool_calls_stops_before_the_next_call(server):
    import threading

    from vision_widgets.core.llm import client
    from vision_widgets.core.llm.client import Cancelled, Endpoint, ToolResult

    cancel = threading.Event()
    ran = []

    def run_tool(call):
        ran.append(call)
        cancel.set()  # the person leaves while the first look-up runs
        return ToolResult("{}", True, "looked")

    server.script(tool_call(*[("feature_history", {"feature": f"f{i}"}) for i in range(5)][0],
                            *[("feature_history", {"feature": f"f{i}"}) for i in range(1, 5)]))
    ep = Endpoint(server.url, "test-model", timeout=TIMEOUT)
    got = []
    with pytest.raises(Cancelled):
        for item in client.converse(ep, [{"role": "user", "content": "dig"}], ({"type": "function"},), run_tool,
                                    cancel=cancel):
            got.append(item)
    assert len(ran) == 1 and len(got) == 1 and len(server.chat_requests) == 1


def _refuse_tools(server) -> None:
    """The server answers HTTP 400 to any request carrying ``tools`` (vLLM without --enable-auto-tool-choice)."""
    scripted = server.next_behaviour

    def next_behaviour():
        return status(400) if "tools" in server.requests[-1].body else scripted()

    server.next_behaviour = next_behaviour


def test_an_endpoint_that_refuses_tools_is_asked_again_without_them_and_remembered(ctx, login, known, server):
    from vision_widgets.core.llm import client

    c = with_llm(ctx, server.url)
    _refuse_tools(server)
    server.default = answer("Income drifted in the latest window.")
    events = run(llm_chat.ask_about_model(c, login(USER), "Known", "Why did drift fire?"))
    assert events[-1] == Done("Income drifted in the latest window.", "llm")  # the LLM's answer, no notice
    assert ["tools" in r.body for r in server.chat_requests] == [True, False]
    assert not client.offers_tools(client.endpoint_of(c.settings))
    # the next question goes without tools at once: one request
    events = run(llm_chat.ask_about_model(c, login(USER), "Known", "And balance?"))
    assert events[-1].source == "llm"
    assert ["tools" in r.body for r in server.chat_requests] == [True, False, False]


def test_a_400_that_is_not_about_tools_still_ends_in_the_fallback_and_is_not_remembered(ctx, login, known, server):
    from vision_widgets.core.llm import client

    c = with_llm(ctx, server.url)
    server.script(status(400), status(400))
    events = run(llm_chat.ask_about_model(c, login(USER), "Known", "Why did drift fire?"))
    assert events[-1].source == "fallback" and "answered HTTP 400" in events[-1].notice
    assert ["tools" in r.body for r in server.chat_requests] == [True, False]  # one try without tools, no more
    assert client.offers_tools(client.endpoint_of(c.settings))


def test_with_tools_switched_off_no_request_carries_them(ctx, login, known, server, tmp_path):
    from vision_widgets.core.config import load_settings
    from vision_widgets.core.errors import ConfigurationError

    assert load_settings({"VISION_HOME": str(tmp_path)}).llm_tools is True
    assert load_settings({"VISION_HOME": str(tmp_path), "VISION_LLM_TOOLS": "off"}).llm_tools is False
    with pytest.raises(ConfigurationError):
        load_settings({"VISION_HOME": str(tmp_path), "VISION_LLM_TOOLS": "maybe"})
    c = with_llm(ctx, server.url, llm_tools=False)
    events = run(llm_chat.ask_about_model(c, login(USER), "Known", "Why did drift fire?"))
    assert events[-1].source == "llm"
    assert ["tools" in r.body for r in server.chat_requests] == [False]


# --------------------------------------------------------------------------------------------
# Without an LLM, and when it fails: the labelled summary, in bounded time
# --------------------------------------------------------------------------------------------
def test_with_no_endpoint_the_summary_written_from_the_numbers_answers_at_once(ctx, login, known):
    events = run(llm_chat.ask_about_model(with_llm(ctx, None), login(USER), "Known", "Why did drift fire?"))
    done = events[-1]
    assert done.source == "fallback" and "No LLM endpoint is configured" in done.notice
    assert done.answer.startswith(f"**{LABEL}.**") and done.answer == texts(events)
    assert "**income**" in done.answer  # the feature that drifted most is named
    latest = drift_page.drift_overview(ctx, login(USER), "Known").latest
    assert f"{len(latest.drifted)} of {len(latest.features)} features (" in done.answer
    assert [r.kind for r in rows(ctx)] == ["prompt", "fallback"] and rows(ctx)[1].endpoint == ""
    assert llm_chat.status(with_llm(ctx, None)).configured is False


def _closed_port() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize("failure", ["http 500", "closed port", "never answers", "too slow"])
def test_a_failing_endpoint_ends_in_the_fallback_within_the_configured_time(ctx, login, known, server, failure):
    url = _closed_port() if failure == "closed port" else server.url
    server.script(*{"http 500": [status(500), status(500)], "never answers": [hang(), hang()],
                    "too slow": [answer("a b c d e f g h", pieces=8, delay=0.6)]}.get(failure, []))
    c = with_llm(ctx, url)
    start = time.monotonic()
    events = run(llm_chat.ask_about_model(c, login(USER), "Known", "Is performance likely to drop?"))
    took = time.monotonic() - start
    done = events[-1]
    assert took <= TIMEOUT + SLACK, took
    assert done.source == "fallback" and LABEL in done.answer and done.answer == texts(events)
    expected = {"http 500": "answered HTTP 500", "closed port": "cannot be reached",
                "never answers": f"did not answer within {TIMEOUT:g} s", "too slow": f"did not answer within {TIMEOUT:g} s"}
    assert expected[failure] in done.notice
    if failure == "http 500":
        assert len(server.chat_requests) == 2  # one retry before the first token, no more
    if failure == "too slow":  # part of the answer had streamed: kept, the summary follows it
        assert done.answer.startswith("a b") and "Part of the answer may be missing" in done.notice


@pytest.mark.parametrize("behaviour", ["never answers", "streams slowly"])
def test_an_answer_abandoned_from_another_thread_stops_at_once(ctx, login, known, server, behaviour):
    """The page reads in a background thread and closes from the kernel's: the reader's ``next()`` ends."""
    import threading

    server.script(hang() if behaviour == "never answers" else answer("one two three four five six", 6, delay=0.4))
    it = llm_chat.ask_about_model(with_llm(ctx, server.url, llm_timeout=30.0), login(USER), "Known", "Anything?")
    seen: list = []
    started, streaming = threading.Event(), threading.Event()

    def read() -> None:
        for event in it:
            seen.append(event)
            started.set()
            if isinstance(event, Delta):
                streaming.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert started.wait(10)
    if behaviour == "streams slowly":
        assert streaming.wait(10), "the first piece of the answer"
    start = time.monotonic()
    it.close()
    reader.join(5)
    assert not reader.is_alive() and time.monotonic() - start < 1.0
    assert it.closed and not any(isinstance(e, Done) for e in seen)
    kinds = [r.kind for r in rows(ctx)]
    if behaviour == "streams slowly":  # what was shown is recorded as such
        assert kinds == ["prompt", "answer"] and rows(ctx)[1].content.endswith("[stopped before the end]")
    else:
        assert kinds == ["prompt"]


# --------------------------------------------------------------------------------------------
# What a person can act on is raised before the first event; the permission matrix
# --------------------------------------------------------------------------------------------
def test_errors_a_person_can_act_on_are_raised_before_anything_is_asked(ctx, login, known, others, server):
    c = with_llm(ctx, server.url)
    with pytest.raises(InvalidInput) as empty:
        llm_chat.ask_about_model(c, login(USER), "Known", "   ")
    assert empty.value.field == "question"
    with pytest.raises(InvalidInput):
        llm_chat.ask_about_model(c, login(USER), "Known", "x" * (llm_chat.MAX_QUESTION + 1))
    with pytest.raises(PermissionDenied):
        llm_chat.ask_about_model(c, login(USER), others, "What drifted?")
    with pytest.raises(NotFound):
        llm_chat.ask_about_model(c, login(USER), "No such model", "What drifted?")
    with pytest.raises(InvalidInput):
        llm_chat.ask_faq(c, login(USER), "")
    assert server.requests == [] and rows(ctx) == []


@pytest.mark.parametrize("who, own, theirs", [(USER, True, False), (OTHER_USER, False, True), (ADMIN, True, True)])
def test_who_may_ask_about_which_model(ctx, login, known, others, who, own, theirs):
    c = with_llm(ctx, None)
    for model, allowed in (("Known", own), (others, theirs)):
        if allowed:
            assert run(llm_chat.ask_about_model(c, login(who), model, "What drifted?"))[-1].source == "fallback"
        else:
            with pytest.raises(PermissionDenied):
                llm_chat.ask_about_model(c, login(who), model, "What drifted?")
    # the FAQ is open to every logged-in account
    assert run(llm_chat.ask_faq(c, login(who), "How do I change my password?"))[-1].source == "faq"


def test_the_log_and_the_recording_switch_are_for_admins(ctx, login, known):
    for who in (USER, OTHER_USER):
        with pytest.raises(PermissionDenied):
            llm_chat.log_entries(ctx, login(who))
        with pytest.raises(PermissionDenied):
            llm_chat.set_recording(ctx, login(who), False)
    assert llm_chat.recording(ctx) is True  # on when never set
    c = with_llm(ctx, None)
    run(llm_chat.ask_about_model(c, login(USER), "Known", "First question"))
    llm_chat.set_recording(ctx, login(ADMIN), False)
    assert llm_chat.recording(ctx) is False
    run(llm_chat.ask_about_model(c, login(USER), "Known", "Unrecorded question"))
    run(llm_chat.ask_faq(c, login(USER), "How do I change my password?"))
    llm_chat.set_recording(ctx, login(ADMIN), True)
    run(llm_chat.ask_faq(c, login(OTHER_USER), "What does PSI mean?"))
    entries = llm_chat.log_entries(ctx, login(ADMIN))
    assert [e.content for e in entries if e.kind == "prompt"] == ["What does PSI mean?", "First question"]
    assert {e.username for e in llm_chat.log_entries(ctx, login(ADMIN), username=USER)} == {USER}
    assert len(llm_chat.log_entries(ctx, login(ADMIN), limit=1)) == 1
    from vision_widgets.core import audit
    with ctx.store.read() as conn:
        actions = [a.action for a in audit.recent(conn)]
    assert "LLM chat recording off" in actions and "LLM chat recording on" in actions


# --------------------------------------------------------------------------------------------
# The API key
# --------------------------------------------------------------------------------------------
def test_the_api_key_is_sent_to_the_endpoint_and_nowhere_else(ctx, login, known, server):
    from vision_widgets.core.llm.client import endpoint_of

    c = with_llm(ctx, server.url)
    server.script(answer("fine"))
    run(llm_chat.ask_about_model(c, login(USER), "Known", "Hello?"))
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"
    server.script(status(401))
    events = run(llm_chat.ask_about_model(c, login(USER), "Known", "Hello again?"))
    assert "refused the API key" in events[-1].notice
    # a key in the URL's userinfo is not shown either
    leaky = with_llm(ctx, server.url.replace("http://", f"http://user:{KEY}@"))
    run(llm_chat.ask_about_model(leaky, login(USER), "Known", "And now?"))
    seen = [repr(endpoint_of(c.settings)), repr(c.settings), repr(llm_chat.status(c)), repr(llm_chat.status(leaky)),
            *(repr(e) for e in rows(ctx)), *(repr(e) for e in events)]
    assert not [s for s in seen if KEY in s]


# --------------------------------------------------------------------------------------------
# The FAQ
# --------------------------------------------------------------------------------------------
def test_a_close_faq_match_is_answered_from_the_file_with_the_matched_question(ctx, login):
    events = run(llm_chat.ask_faq(with_llm(ctx, None), login(USER), "how can I change my password?"))
    done = events[-1]
    assert done.source == "faq" and done.matched_question == "How do I change my password?"
    assert "My account" in done.answer and done.answer == texts(events)
    assert [r.kind for r in rows(ctx)] == ["prompt", "faq"]


def test_an_unrelated_question_goes_to_the_llm_with_the_closest_entries(ctx, login, server):
    server.script(answer("I do not know; ask an administrator.", pieces=2))
    events = run(llm_chat.ask_faq(with_llm(ctx, server.url), login(USER), "Does Vision AI support dark mode on phones?",
                                  conversation="faq-1"))
    assert events[-1].source == "llm" and len(server.chat_requests) == 1
    system = server.chat_requests[0].body["messages"][0]["content"]
    assert "Q: " in system and "A: " in system and "tools" not in server.chat_requests[0].body
    assert [f.label for f in events[0].facts] == ["FAQ entry"] * len(events[0].facts) and events[0].facts


@pytest.mark.parametrize("question", ["Why did my model drift?", "Who can see Alert delivery?"])
def test_a_product_question_without_its_own_entry_goes_to_the_llm_or_shows_the_closest_entries(ctx, login, server,
                                                                                                 question):
    # with an LLM: asked, with the closest entries as context (it once got a wrong entry as "the answer")
    server.script(answer("Open the Drift page for that model.", pieces=2))
    events = run(llm_chat.ask_faq(with_llm(ctx, server.url), login(USER), question))
    assert events[-1].source == "llm" and len(server.chat_requests) == 1
    assert "Q: " in server.chat_requests[0].body["messages"][0]["content"]
    # without one: the closest entries, labelled as such, never as the answer
    done = run(llm_chat.ask_faq(with_llm(ctx, None), login(USER), question))[-1]
    assert done.source == "fallback" and done.matched_question == "" and "closest FAQ entries" in done.notice
    assert done.answer.startswith("These entries of the Vision AI FAQ are the closest to your question")


def test_without_an_llm_an_unmatched_faq_question_shows_the_closest_entries(ctx, login):
    events = run(llm_chat.ask_faq(with_llm(ctx, None), login(USER), "Can I change the colours of the charts?"))
    done = events[-1]
    assert done.source == "fallback" and "closest FAQ entries" in done.notice
    shown = [f.value for f in events[0].facts]
    assert shown and all(f"**{q}**" in done.answer for q in shown)


def test_status_and_the_monitoring_tile_speak_of_the_same_endpoint(ctx):
    from vision_widgets.core.monitoring import checks

    none = with_llm(ctx, None)
    assert not llm_chat.status(none).configured and "No LLM endpoint" in checks.llm(none.settings).message
    down = with_llm(ctx, _closed_port().replace("/v1", "/api/v1"))
    s = llm_chat.status(down)
    assert s.configured and s.endpoint.endswith("/api/v1") and s.model == "test-model"
    host = s.endpoint.split("//")[1].split("/")[0]
    assert host in checks.llm(down.settings, timeout=1).message
    # only a key: OpenAI's API, for the chat and for the tile alike
    keyed = replace(ctx, settings=replace(ctx.settings, openai_base_url=None, openai_api_key=KEY))
    assert llm_chat.status(keyed).endpoint == "https://api.openai.com/v1"


def test_the_llm_settings_come_from_the_environment_with_safe_defaults(tmp_path):
    from vision_widgets.core.config import load_settings
    from vision_widgets.core.errors import ConfigurationError

    home = {"VISION_HOME": str(tmp_path)}
    default = load_settings(home)
    assert (default.llm_timeout, default.llm_connect_timeout, default.llm_retries, default.llm_context_tokens) == \
        (30.0, 5.0, 1, 3000)
    s = load_settings({**home, "VISION_LLM_TIMEOUT": "2.5", "VISION_LLM_CONNECT_TIMEOUT": "0.5",
                       "VISION_LLM_RETRIES": "0", "VISION_LLM_CONTEXT_TOKENS": "800"})
    assert (s.llm_timeout, s.llm_connect_timeout, s.llm_retries, s.llm_context_tokens) == (2.5, 0.5, 0, 800)
    for bad in ({"VISION_LLM_TIMEOUT": "soon"}, {"VISION_LLM_TIMEOUT": "0"}, {"VISION_LLM_CONTEXT_TOKENS": "10"}):
        with pytest.raises(ConfigurationError):
            load_settings({**home, **bad})


def test_the_tools_compare_windows_and_explain_what_they_cannot_do(ctx, login, known):
    from vision_widgets.core.llm import tools
    from vision_widgets.core.llm.client import ToolCall

    me = login(USER)
    overview = drift_page.drift_overview(ctx, me, "Known")
    load = lambda name: drift_page.drift_overview(ctx, me, name)  # noqa: E731
    first, last = overview.windows[1].label, overview.latest.label  # [0] is a partial first week
    r = tools.run(ToolCall("c1", "compare_windows", json.dumps({"model": "Known", "first": first, "second": last})), load)
    assert r.ok, r.summary
    result = json.loads(r.content)
    changed = {c["feature"]: c for c in result["features_whose_verdict_changed"]}
    assert changed["income"][first]["drifted"] is False and changed["income"][last]["drifted"] is True
    report = json.loads(tools.run(ToolCall("c2", "drift_report", json.dumps({"model": "Known", "window": last})),
                                  load).content)
    assert report["window"] == last and report["features"][0]["feature"] == "income"
    for call, says in ((ToolCall("c3", "drop_table", "{}"), "There is no tool"),
                       (ToolCall("c4", "drift_report", "not json"), "not a JSON object"),
                       (ToolCall("c5", "drift_report", json.dumps({"model": "Known", "window": "1999-01-01"})),
                        "No window '1999-01-01'"),
                       (ToolCall("c6", "feature_history", json.dumps({"model": "Known", "feature": "nope"})),
                        "has no feature"),
                       (ToolCall("c7", "feature_history", json.dumps({"model": "Nope", "feature": "x"})), "Refused")):
        r = tools.run(call, load)
        assert not r.ok and says in r.summary and says in json.loads(r.content)["error"]


def test_a_drift_report_names_its_window_exactly_or_is_refused_with_the_windows_there_are(ctx, login, known):
    from vision_widgets.core.llm import tools
    from vision_widgets.core.llm.client import ToolCall

    me = login(USER)
    overview = drift_page.drift_overview(ctx, me, "Known")
    load = lambda name: drift_page.drift_overview(ctx, me, name)  # noqa: E731
    labels = [w.label for w in overview.windows]
    assert len(labels) > 2 and all(label.startswith("2026") for label in labels)

    def report(window):
        return tools.run(ToolCall("c", "drift_report", json.dumps({"model": "Known", "window": window})), load)

    # an empty label, or a prefix every window shares, once returned the oldest window silently
    for vague in ("", "  ", "2026"):
        r = report(vague)
        assert not r.ok and labels[-1] in r.summary, (vague, r.summary)
    assert "names" in report("2026").summary  # says the prefix is ambiguous
    assert not report(None).ok  # a missing window is no window
    assert json.loads(report("latest").content)["window"] == labels[-1]
    assert json.loads(report(labels[1]).content)["window"] == labels[1]
    unique = labels[-1][:-1] if sum(x.startswith(labels[-1][:-1]) for x in labels) == 1 else labels[-1]
    assert json.loads(report(unique).content)["window"] == labels[-1]
    r = report("1999-01-01")
    assert not r.ok and "No window '1999-01-01'" in r.summary and labels[-1] in r.summary


def test_a_model_awaiting_metrics_is_answered_with_why_there_are_no_numbers(ctx, login, register_restricted):
    register_restricted("Secret model")
    events = run(llm_chat.ask_about_model(with_llm(ctx, None), login(USER), "Secret model", "Why did drift fire?"))
    assert any(f.label == "Why there is no drift report" and "awaiting metrics" in f.value for f in events[0].facts)
    done = events[-1]
    assert done.source == "fallback" and "awaiting metrics" in done.answer
    assert "Features that drifted most" not in done.answer


def test_an_ended_session_may_ask_nothing(ctx, login, known):
    from vision_widgets.core.errors import SessionExpired
    from vision_widgets.services import sessions

    me = login(USER)
    sessions.logout(ctx, me)
    for ask in (lambda: llm_chat.ask_about_model(ctx, me, "Known", "What drifted?"),
                lambda: llm_chat.ask_faq(ctx, me, "How do I change my password?")):
        with pytest.raises(SessionExpired):
            ask()
    assert rows(ctx) == []
